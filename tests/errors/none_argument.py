# expect: CuparTypeError
# message: argument `xs` of `double` is None, which cupar cannot take
# at: double(
"""None where a sequence is expected."""
from cupar import map, parallel


@parallel
def double(xs):
    return map(lambda x: 2 * x, xs)


CALL = lambda: double(None)  # <-  # noqa: E731
