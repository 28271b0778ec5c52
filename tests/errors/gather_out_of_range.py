# expect: CuparIndexError
# message: gather index 7 is out of range for a sequence of length 3
# at: gather(
"""gather with an index past the end of the source."""
import numpy as np
from cupar import gather, parallel


@parallel
def pick(xs, idx):
    return gather(xs, idx)  # <-


CALL = lambda: pick(np.ones(3), np.array([0, 7]))  # noqa: E731
