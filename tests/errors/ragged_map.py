# expect: CuparValueError
# message: map got sequences of different lengths [3, 5]
# at: map
"""map over two sequences whose lengths differ at run time."""
import numpy as np
from cupar import map, parallel


@parallel
def add(xs, ys):
    return map(lambda x, y: x + y, xs, ys)  # <-


CALL = lambda: add(np.ones(3), np.ones(5))  # noqa: E731
