# expect: CuparTypeError
# message: both branches must have the same type: i32[N] vs f32[M]
# at: ys
"""The two branches of an `if` return sequences of different element types."""
import numpy as np
from cupar import parallel


@parallel
def pick(flag, xs, ys):
    if flag:
        return xs
    else:
        return ys  # <-


CALL = lambda: pick(True, np.arange(3, dtype=np.int32), np.ones(3, np.float32))  # noqa: E731
