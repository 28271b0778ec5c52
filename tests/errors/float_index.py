# expect: CuparTypeError
# message: a sequence index must be an integer, but got f32
# at: x]
"""Indexing a sequence with a float."""
import numpy as np
from cupar import parallel


@parallel
def at(xs, x):
    return xs[x]  # <-


CALL = lambda: at(np.ones(3), np.float32(1))  # noqa: E731
