# expect: CuparValueError
# message: min() of an empty sequence
# at: min(
"""`min` of a sequence that turns out empty at run time."""
import numpy as np
from cupar import min, parallel


@parallel
def smallest(xs):
    return min(xs)  # <-


CALL = lambda: smallest(np.zeros(0, np.float32))  # noqa: E731
