# expect: CuparSyntaxError
# message: `y` is assigned on only one path of the `if` on line 10
# at: y
"""A name assigned in one branch of an `if` and read after it."""
from cupar import parallel


@parallel
def positive_part(x):
    if x > 0:
        y = x
    return y  # <-
