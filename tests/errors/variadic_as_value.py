# expect: CuparTypeError
# message: max takes a varying number of arguments and cannot be passed as a value
# at: max,
"""Passing `max` (which has a one- and a two-argument form) to reduce."""
import numpy as np
from cupar import max, parallel, reduce


@parallel
def largest(xs):
    return reduce(max, xs, 0.0)  # <-


CALL = lambda: largest(np.ones(3))  # noqa: E731
