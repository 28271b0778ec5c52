# expect: CuparSyntaxError
# message: not every path through `scale` returns a value
# at: def
"""A function that computes a value and forgets to return it."""
from cupar import parallel


@parallel
def scale(xs):  # <-
    ys = [2 * x for x in xs]  # noqa: F841
