# expect: CuparSyntaxError
# message: the `in` comparison is not supported inside @parallel
# at: x in
"""Membership test with `in`."""
from cupar import parallel


@parallel
def contains(xs, x):
    return x in xs  # <-
