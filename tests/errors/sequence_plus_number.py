# expect: CuparTypeError
# message: `+` takes numbers, but argument 1 is f32[N]
# at: xs + 1
"""Adding a number to a whole sequence, as NumPy would broadcast."""
import numpy as np
from cupar import parallel


@parallel
def incremented(xs):
    return xs + 1  # <-


CALL = lambda: incremented(np.ones(3, np.float32))  # noqa: E731
