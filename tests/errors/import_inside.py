# expect: CuparSyntaxError
# message: the `import` statement is not supported inside @parallel
# at: import
"""Importing a module inside the function body."""
from cupar import parallel


@parallel
def root(x):
    import math  # <-
    return math.sqrt(x)
