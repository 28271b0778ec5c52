# expect: CuparTypeError
# message: len takes a sequence as argument 1, but got float
# at: x)
"""len of a number."""
from cupar import len, parallel


@parallel
def size(x):
    return len(x)  # <-


CALL = lambda: size(3.0)  # noqa: E731
