# expect: CuparIndexError
# message: scatter index -9 is out of range for a sequence of length 4
# at: scatter(
"""scatter with a destination index before the start."""
import numpy as np
from cupar import parallel, scatter


@parallel
def place(src, idx, dst):
    return scatter(src, idx, dst)  # <-


CALL = lambda: place(np.ones(2), np.array([0, -9]), np.zeros(4))  # noqa: E731
