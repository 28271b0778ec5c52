# expect: CuparValueError
# message: zip got sequences of different lengths [3, 4]
# at: zip
"""zip of two sequences whose lengths differ at run time."""
import numpy as np
from cupar import map, parallel, zip


@parallel
def products(xs, ys):
    return map(lambda p: p[0] * p[1], zip(xs, ys))  # <-


CALL = lambda: products(np.ones(3), np.ones(4))  # noqa: E731
