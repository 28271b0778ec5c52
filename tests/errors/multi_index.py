# expect: CuparSyntaxError
# message: multi-dimensional indexing `m[i, j]` is not supported
# at: i, j
"""NumPy-style two-dimensional indexing."""
from cupar import parallel


@parallel
def element(m, i, j):
    return m[i, j]  # <-
