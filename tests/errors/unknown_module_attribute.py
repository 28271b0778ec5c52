# expect: CuparNameError
# message: `cupar.mapp` does not exist
# at: cupar.mapp
"""A misspelt function of a module."""
import numpy as np
import cupar


@cupar.parallel
def doubled(xs):
    return cupar.mapp(lambda x: 2 * x, xs)  # <-


CALL = lambda: doubled(np.ones(3))  # noqa: E731
