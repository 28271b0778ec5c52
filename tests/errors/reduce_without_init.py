# expect: CuparTypeError
# message: reduce takes 3 arguments, but 2 were given
# at: reduce
"""`reduce` without its initial value (cupar requires one)."""
import numpy as np
from cupar import op_add, parallel, reduce


@parallel
def total(xs):
    return reduce(op_add, xs)  # <-


CALL = lambda: total(np.ones(3))  # noqa: E731
