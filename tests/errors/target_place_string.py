# expect: CuparTypeError
# message: target_place must be a cupar place, not 'gpu'
# at: double(
"""`target_place=` given a string instead of a place object."""
import numpy as np
from cupar import map, parallel


@parallel
def double(xs):
    return map(lambda x: 2 * x, xs)


CALL = lambda: double(np.ones(3), target_place="gpu")  # <-  # noqa: E731
