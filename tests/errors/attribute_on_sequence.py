# expect: CuparSyntaxError
# message: attribute access `xs.shape` is not supported
# at: xs.shape
"""Reading NumPy's `.shape` of a sequence instead of using len(xs)."""
from cupar import parallel


@parallel
def count(xs):
    return xs.shape[0]  # <-
