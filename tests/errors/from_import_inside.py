# expect: CuparSyntaxError
# message: the `from ... import` statement is not supported inside @parallel
# at: from
"""A `from ... import` inside the function body."""
from cupar import parallel


@parallel
def root(x):
    from math import sqrt  # <-
    return sqrt(x)
