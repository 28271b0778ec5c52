# expect: CuparTypeError
# message: cannot unpack f64[N] into 2 names
# at: xs
"""A sequence's length is known only at run time, so it cannot be unpacked into names."""
import numpy as np

from cupar import *  # noqa: F403


@parallel  # noqa: F405
def first_two(xs):
    a, b = xs  # <-
    return a + b


CALL = lambda: first_two(np.ones(3))  # noqa: E731
