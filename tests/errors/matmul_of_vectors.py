# expect: CuparTypeError
# message: matmul of two vectors is their dot product, which matmul does not give
# at: y)
"""matmul of two vectors (NumPy's dot product): cupar asks for an explicit sum."""
import numpy as np
from cupar import matmul, parallel


@parallel
def dot(x, y):
    return matmul(x, y)  # <-


CALL = lambda: dot(np.ones(3), np.ones(3))  # noqa: E731
