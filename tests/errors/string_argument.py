# expect: CuparTypeError
# message: argument `xs` of `double` is a str, which cupar cannot take
# at: double(
"""A string where a sequence of numbers is expected."""
from cupar import map, parallel


@parallel
def double(xs):
    return map(lambda x: 2 * x, xs)


CALL = lambda: double("123")  # <-  # noqa: E731
