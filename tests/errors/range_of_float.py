# expect: CuparTypeError
# message: range needs an integer as argument 1, but got float
# at: n)
"""range of a float bound."""
from cupar import map, parallel, range


@parallel
def squares(n):
    return map(lambda i: i * i, range(n))  # <-


CALL = lambda: squares(4.0)  # noqa: E731
