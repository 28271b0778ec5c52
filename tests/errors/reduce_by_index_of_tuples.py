# expect: CuparTypeError
# message: reduce_by_index combines numbers or rows of numbers, but dest is
# at: pairs,
"""reduce_by_index into a sequence of tuples."""
import numpy as np
from cupar import parallel, reduce_by_index, zip


@parallel
def sums(xs, idx):
    pairs = zip(xs, xs)
    return reduce_by_index(lambda a, b: (a[0] + b[0], a[1] + b[1]), pairs, idx, pairs)  # <-


CALL = lambda: sums(np.ones(3), np.array([0, 2]))  # noqa: E731
