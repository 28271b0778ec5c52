# expect: CuparSyntaxError
# message: the `annotated assignment` statement is not supported inside @parallel
# at: y
"""An assignment with a type annotation."""
from cupar import parallel


@parallel
def twice(x):
    y: float = 2 * x  # <-
    return y
