# expect: CuparTypeError
# message: argument `xs` of `double` has dtype complex128, which cupar does not support
# at: double(
"""A complex array as an argument."""
import numpy as np
from cupar import map, parallel


@parallel
def double(xs):
    return map(lambda x: 2 * x, xs)


CALL = lambda: double(np.ones(3, dtype=complex))  # <-  # noqa: E731
