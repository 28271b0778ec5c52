# expect: CuparSyntaxError
# message: a set is not supported inside @parallel
# at: {
"""Building a set."""
from cupar import parallel


@parallel
def distinct(x, y):
    return {x, y}  # <-
