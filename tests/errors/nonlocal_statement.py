# expect: CuparSyntaxError
# message: the `nonlocal` statement is not supported inside @parallel
# at: nonlocal
"""A nested def rebinding a variable of the enclosing function."""
from cupar import parallel


@parallel
def counter(x):
    n = 0

    def step(y):
        nonlocal n  # <-
        n = n + y
        return n
    return step(x)
