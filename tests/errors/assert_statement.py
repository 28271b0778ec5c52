# expect: CuparSyntaxError
# message: the `assert` statement is not supported inside @parallel
# at: assert
"""An assertion inside a @parallel function."""
from cupar import len, parallel


@parallel
def first(xs):
    assert len(xs) > 0  # <-
    return xs[0]
