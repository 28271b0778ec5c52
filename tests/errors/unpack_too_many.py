# expect: CuparTypeError
# message: cannot unpack a tuple of 3 values into 2 names
# at: (x, x + 1, x + 2)
"""Python raises for `a, b = (1, 2, 3)`; cupar rejects it when types are inferred."""
from cupar import *  # noqa: F403


@parallel  # noqa: F405
def pairs(x):
    a, b = (x, x + 1, x + 2)  # <-
    return a + b


CALL = lambda: pairs(1.0)  # noqa: E731
