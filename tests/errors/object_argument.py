# expect: CuparTypeError
# message: argument `xs` of `double` has dtype object
# at: double(
"""An array of Python objects as an argument."""
import numpy as np
from cupar import map, parallel


@parallel
def double(xs):
    return map(lambda x: 2 * x, xs)


CALL = lambda: double(np.array([1, "two"], dtype=object))  # <-  # noqa: E731
