# expect: CuparTypeError
# message: a function cannot be returned as a value
# at: lambda
"""Returning a lambda from a @parallel function."""
import numpy as np
from cupar import parallel


@parallel
def adder(a):
    return lambda x: x + a  # <-


CALL = lambda: adder(np.float32(1))  # noqa: E731
