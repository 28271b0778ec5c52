# expect: CuparTypeError
# message: `square` is a plain Python function, which cupar cannot compile
# at: square
"""Calling an undecorated Python function from a @parallel one."""
import numpy as np
from cupar import map, parallel


def square(x):
    return x * x


@parallel
def squares(xs):
    return map(lambda x: square(x), xs)  # <-


CALL = lambda: squares(np.ones(3))  # noqa: E731
