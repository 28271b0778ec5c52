# expect: CuparValueError
# message: matmul got a 2x3 matrix and a 4x2 matrix: inner lengths 3 and 4 differ
# at: matmul(
"""A matrix product whose operands' inner lengths differ at run time."""
import numpy as np
from cupar import matmul, parallel


@parallel
def product(a, b):
    return matmul(a, b)  # <-


CALL = lambda: product(np.ones((2, 3)), np.ones((4, 2)))  # noqa: E731
