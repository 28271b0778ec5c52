# expect: CuparTypeError
# message: a condition must be a bool or a number, but this one is f32[N]
# at: xs:
"""Testing a whole sequence for truth, as if it were a number."""
import numpy as np
from cupar import parallel


@parallel
def first_or_zero(xs):
    if xs:  # <-
        return xs[0]
    return np.float32(0)


CALL = lambda: first_or_zero(np.ones(3, np.float32))  # noqa: E731
