# expect: CuparTypeError
# message: this value is not a function: it has type f32
# at: scale(
"""Calling a number parameter as if it were a function."""
import numpy as np
from cupar import parallel


@parallel
def apply(scale, x):
    return scale(x)  # <-


CALL = lambda: apply(np.float32(2), np.float32(3))  # noqa: E731
