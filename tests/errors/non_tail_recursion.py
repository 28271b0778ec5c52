# expect: CuparSyntaxError
# message: recursive call to `fact` is not in tail position
# at: fact(
"""Recursion whose result is used after the call returns."""
from cupar import parallel


@parallel
def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)  # <-


CALL = lambda: fact(5)  # noqa: E731
