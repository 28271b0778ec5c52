# expect: CuparSyntaxError
# message: the `@` operator is not supported inside @parallel
# at: a @ b
"""NumPy's matrix-multiplication operator."""
from cupar import parallel


@parallel
def product(a, b):
    return a @ b  # <-
