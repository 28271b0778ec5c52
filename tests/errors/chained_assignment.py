# expect: CuparSyntaxError
# message: chained assignment is not supported inside @parallel
# at: a =
"""Assigning one value to two names at once."""
from cupar import parallel


@parallel
def pair(x):
    a = b = x  # <-
    return (a, b)
