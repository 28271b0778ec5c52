# expect: CuparSyntaxError
# message: `return` needs a value
# at: return
"""A bare `return`: every cupar function computes a value."""
from cupar import parallel


@parallel
def nothing(xs):
    return  # <-
