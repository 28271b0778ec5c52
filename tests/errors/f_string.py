# expect: CuparSyntaxError
# message: an f-string is not supported inside @parallel
# at: f"
"""Formatting a value into a string."""
from cupar import parallel


@parallel
def label(x):
    return f"x={x}"  # <-
