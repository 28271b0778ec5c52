# expect: CuparTypeError
# message: map takes at least 2 arguments, but 1 was given
# at: map
"""`map` given a function but no sequence."""
import numpy as np
from cupar import map, parallel


@parallel
def doubled(xs):
    return map(lambda x: 2 * x)  # <-


CALL = lambda: doubled(np.ones(3))  # noqa: E731
