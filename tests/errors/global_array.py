# expect: CuparTypeError
# message: global `WEIGHTS` is a NumPy array, which cupar cannot use
# at: WEIGHTS
"""Reading a module-level NumPy array instead of passing it as an argument."""
import numpy as np
from cupar import map, parallel, zip

WEIGHTS = np.ones(3)


@parallel
def weighted(xs):
    return map(lambda p: p[0] * p[1], zip(xs, WEIGHTS))  # <-


CALL = lambda: weighted(np.ones(3))  # noqa: E731
