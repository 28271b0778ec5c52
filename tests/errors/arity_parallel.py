# expect: CuparTypeError
# message: `axpy` takes 3 arguments (a, x, y), but 2 were given
# at: axpy
"""Calling another @parallel function with an argument missing."""
import numpy as np
from cupar import parallel


@parallel
def axpy(a, x, y):
    return [a * xi + yi for xi, yi in zip(x, y)]


@parallel
def double_plus(x, y):
    return axpy(x, y)  # <-


CALL = lambda: double_plus(np.ones(3), np.ones(3))  # noqa: E731
