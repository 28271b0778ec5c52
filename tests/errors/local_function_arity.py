# expect: CuparTypeError
# message: `hypot` takes 2 arguments (a, b), but 3 were given
# at: hypot(
"""Calling a nested def with one argument too many."""
from cupar import parallel, sqrt


@parallel
def norm3(x, y, z):
    def hypot(a, b):
        return sqrt(a * a + b * b)
    return hypot(x, y, z)  # <-


CALL = lambda: norm3(1.0, 2.0, 3.0)  # noqa: E731
