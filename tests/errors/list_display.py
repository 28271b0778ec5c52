# expect: CuparSyntaxError
# message: a list display is not supported inside @parallel
# at: [
"""Building a list literal."""
from cupar import parallel


@parallel
def pair(x, y):
    return [x, y]  # <-
