# expect: CuparTypeError
# message: cannot differentiate `reduce`: only reductions by op_add
# at: reduce
"""A reduction whose operator has no adjoint rule."""
import numpy as np
import cupar
from cupar import parallel, reduce, op_mul


@parallel
def product(x):
    return reduce(op_mul, x, 1.0)  # <-


CALL = lambda: cupar.grad(product)(np.ones(3))  # noqa: E731
