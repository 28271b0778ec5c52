# expect: CuparSyntaxError
# message: `:=` is not supported inside @parallel
# at: y :=
"""An assignment expression."""
from cupar import parallel


@parallel
def twice(x):
    return (y := 2 * x) + y  # <-
