# expect: CuparSyntaxError
# message: keyword arguments are not supported in calls inside @parallel
# at: init=
"""A keyword argument to a prelude function."""
from cupar import op_add, parallel, reduce


@parallel
def total(xs):
    return reduce(op_add, xs, init=0)  # <-
