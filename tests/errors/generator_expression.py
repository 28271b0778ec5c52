# expect: CuparSyntaxError
# message: a generator expression is not supported inside @parallel
# at: (x * x
"""A generator expression where a list comprehension is meant."""
from cupar import parallel, sum


@parallel
def sum_squares(xs):
    return sum(x * x for x in xs)  # <-
