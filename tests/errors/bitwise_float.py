# expect: CuparTypeError
# message: `&` is not defined for f32 and f32
# at: x & y
"""A bitwise and of two floats."""
import numpy as np
from cupar import map, parallel


@parallel
def masked(xs, ys):
    return map(lambda x, y: x & y, xs, ys)  # <-


CALL = lambda: masked(np.ones(3, np.float32), np.ones(3, np.float32))  # noqa: E731
