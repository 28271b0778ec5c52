# expect: CuparSyntaxError
# message: the `global` statement is not supported inside @parallel
# at: global
"""Declaring a global to update it."""
from cupar import parallel

COUNT = 0


@parallel
def bump(x):
    global COUNT  # <-
    COUNT = COUNT + 1
    return x
