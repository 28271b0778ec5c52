# expect: CuparSyntaxError
# message: default values are not supported in cupar function parameters
# at: 2.0
"""A parameter with a default value."""
from cupar import map, parallel


@parallel
def scale(xs, k=2.0):  # <-
    return map(lambda x: k * x, xs)
