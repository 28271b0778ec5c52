# expect: CuparTypeError
# message: cannot infer a type here
# at: forever(
"""A recursive function with no base case: its result type is never fixed."""
from cupar import parallel


@parallel
def forever(x):
    return forever(x + 1)  # <-


CALL = lambda: forever(1)  # noqa: E731
