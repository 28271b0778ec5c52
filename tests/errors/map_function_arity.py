# expect: CuparTypeError
# message: this lambda takes 2 arguments (x, y), but 1 was given
# at: lambda
"""map over one sequence with a function of two parameters."""
import numpy as np
from cupar import map, parallel


@parallel
def sums(xs):
    return map(lambda x, y: x + y, xs)  # <-


CALL = lambda: sums(np.ones(3))  # noqa: E731
