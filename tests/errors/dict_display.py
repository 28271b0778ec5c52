# expect: CuparSyntaxError
# message: a dict is not supported inside @parallel
# at: {
"""Building a dict."""
from cupar import parallel


@parallel
def table(x, y):
    return {0: x, 1: y}  # <-
