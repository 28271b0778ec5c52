# expect: CuparSyntaxError
# message: the `raise` statement is not supported inside @parallel
# at: raise
"""Raising an exception from a @parallel function."""
from cupar import parallel


@parallel
def checked(x):
    if x < 0:
        raise ValueError("negative")  # <-
    return x
