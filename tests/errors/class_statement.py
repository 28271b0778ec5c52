# expect: CuparSyntaxError
# message: the `class` statement is not supported inside @parallel
# at: class
"""Defining a class inside a @parallel function."""
from cupar import parallel


@parallel
def boxed(x):
    class Box:  # <-
        value = 0
    return x
