# expect: CuparIndexError
# message: reduce_by_index index 5 is out of range for a sequence of length 5
# at: reduce_by_index(
"""reduce_by_index with an index one past the end of the destination."""
import numpy as np
from cupar import op_add, parallel, reduce_by_index, replicate


@parallel
def histogram(idx, weights):
    return reduce_by_index(op_add, replicate(0.0, 5), idx, weights)  # <-


CALL = lambda: histogram(np.array([0, 4, 5]), np.ones(3))  # noqa: E731
