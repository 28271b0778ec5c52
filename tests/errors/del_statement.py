# expect: CuparSyntaxError
# message: the `del` statement is not supported inside @parallel
# at: del
"""Deleting a name."""
from cupar import parallel


@parallel
def forget(x):
    y = x + 1
    del x  # <-
    return y
