# expect: CuparValueError
# message: rows of different lengths [1, 2] in a sequence of sequences
# at: map(
"""A map whose function returns rows of different lengths."""
import numpy as np
from cupar import map, parallel, range


@parallel
def triangle(lens):
    return map(lambda n: range(n), lens)  # <-


CALL = lambda: triangle(np.array([1, 2]))  # noqa: E731
