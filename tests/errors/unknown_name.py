# expect: CuparNameError
# message: name `reduse` is not defined
# at: reduse
"""A misspelt prelude name: the hint suggests the right one."""
import numpy as np
from cupar import *  # noqa: F403


@parallel  # noqa: F405
def total(xs):
    return reduse(op_add, xs, 0)  # <-  # noqa: F821,F405


CALL = lambda: total(np.ones(3))  # noqa: E731
