# expect: CuparTypeError
# message: the function given to filter must return bool, but it returns f32
# at: lambda
"""A filter predicate that returns the element instead of a bool."""
import numpy as np
from cupar import filter, parallel


@parallel
def nonzero(xs):
    return filter(lambda x: x, xs)  # <-


CALL = lambda: nonzero(np.ones(3, np.float32))  # noqa: E731
