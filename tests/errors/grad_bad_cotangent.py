# expect: CuparValueError
# message: the cotangent does not match the value: expected float32[3], got float64[3]
# at: pullback
"""A cotangent of the wrong dtype given to a vjp's pullback."""
import numpy as np
import cupar
from cupar import parallel, map


@parallel
def doubled(x):
    return map(lambda v: v * 2.0, x)


def bad_pullback():
    value, pullback = cupar.vjp(doubled, np.ones(3, np.float32))
    return pullback(np.ones(3))  # <-


CALL = bad_pullback
