# expect: CuparTypeError
# message: grad needs a function whose result is a float number, but `doubled` returns f32[N]
# at: map
"""grad of a function returning a sequence (that needs vjp)."""
import numpy as np
import cupar
from cupar import parallel, map


@parallel
def doubled(x):
    return map(lambda v: v * 2.0, x)  # <-


CALL = lambda: cupar.grad(doubled)(np.ones(3, np.float32))  # noqa: E731
