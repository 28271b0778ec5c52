# expect: CuparTypeError
# message: only sequences and tuples can be indexed, but this is f32
# at: x[
"""Indexing a number."""
import numpy as np
from cupar import parallel


@parallel
def first(x):
    return x[0]  # <-


CALL = lambda: first(np.float32(1))  # noqa: E731
