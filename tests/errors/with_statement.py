# expect: CuparSyntaxError
# message: the `with` statement is not supported inside @parallel
# at: with
"""A `with` block inside a @parallel function."""
import numpy as np
from cupar import parallel


@parallel
def quiet_div(a, b):
    with np.errstate(all="ignore"):  # <-
        return a / b
