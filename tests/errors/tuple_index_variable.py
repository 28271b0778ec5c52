# expect: CuparTypeError
# message: a tuple of 2 elements needs a constant index from 0 to 1
# at: k]
"""Indexing a tuple with a run-time value."""
import numpy as np
from cupar import parallel


@parallel
def field(x, y, k):
    pair = (x, y)
    return pair[k]  # <-


CALL = lambda: field(np.float32(1), np.float32(2), 1)  # noqa: E731
