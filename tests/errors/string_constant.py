# expect: CuparSyntaxError
# message: the constant 'mean' is not supported
# at: 'mean'
"""A string used as a value."""
from cupar import parallel


@parallel
def reduce_by(xs):
    how = 'mean'  # <-  # noqa: F841
    return xs
