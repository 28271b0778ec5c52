# expect: CuparTypeError
# message: the initial value must have the element type: f32 vs f64
# at: float64
"""reduce over f32 elements with an f64 initial value."""
import numpy as np
from cupar import float64, op_add, parallel, reduce


@parallel
def total(xs):
    return reduce(op_add, xs, float64(0))  # <-


CALL = lambda: total(np.ones(3, np.float32))  # noqa: E731
