# expect: CuparSyntaxError
# message: the `is` comparison is not supported inside @parallel
# at: x is
"""Comparing numbers with `is` (identity) instead of `==`."""
from cupar import parallel


@parallel
def same(x, y):
    return x is y  # <-
