# expect: CuparTypeError
# message: cannot differentiate with respect to `n`: it is i64, which holds no floats
# at: n
"""A gradient asked of an integer argument."""
import numpy as np
import cupar
from cupar import parallel, map, float32, sum


@parallel
def scaled_sum(x, n):  # <-
    return sum(map(lambda v: v * float32(n), x))


CALL = lambda: cupar.grad(scaled_sum, argnums=1)(np.ones(3, np.float32), np.int64(2))  # noqa: E731
