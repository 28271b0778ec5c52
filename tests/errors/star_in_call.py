# expect: CuparSyntaxError
# message: `*args` in a call is not supported inside @parallel
# at: *pair
"""Unpacking a tuple into the arguments of a call."""
from cupar import op_add, parallel


@parallel
def add_pair(x, y):
    pair = (x, y)
    return op_add(*pair)  # <-
