# expect: CuparTypeError
# message: `add` takes its arguments by position, not by keyword (`ys=`)
# at: add(
"""Calling a @parallel function from Python with a keyword argument."""
import numpy as np
from cupar import map, parallel


@parallel
def add(xs, ys):
    return map(lambda x, y: x + y, xs, ys)


CALL = lambda: add(np.ones(3), ys=np.ones(3))  # <-  # noqa: E731
