# expect: CuparSyntaxError
# message: slices are not supported
# at: 1:
"""Slicing a sequence to drop its first element."""
from cupar import parallel


@parallel
def tail(xs):
    return xs[1:]  # <-
