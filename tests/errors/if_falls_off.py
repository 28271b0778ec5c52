# expect: CuparSyntaxError
# message: not every path through this `if` returns a value
# at: if
"""An `if` that returns, with nothing returned when its test is false."""
from cupar import parallel


@parallel
def clamp(x):
    if x > 0:  # <-
        return x
