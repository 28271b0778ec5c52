# expect: CuparTypeError
# message: `add` takes 2 arguments (xs, ys), but 1 was given
# at: add(
"""Calling a @parallel function from Python with an argument missing."""
import numpy as np
from cupar import map, parallel


@parallel
def add(xs, ys):
    return map(lambda x, y: x + y, xs, ys)


CALL = lambda: add(np.ones(3))  # <-  # noqa: E731
