# expect: CuparSyntaxError
# message: sequences are immutable; item assignment is not supported
# at: xs[0]
"""Writing into a sequence in place."""
from cupar import parallel


@parallel
def zero_first(xs):
    xs[0] = 0  # <-
    return xs
