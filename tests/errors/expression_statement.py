# expect: CuparSyntaxError
# message: an expression statement does nothing inside @parallel
# at: print
"""Calling `print` for its side effect."""
from cupar import parallel


@parallel
def shout(x):
    print(x)  # <-
    return x
