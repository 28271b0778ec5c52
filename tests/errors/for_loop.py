# expect: CuparSyntaxError
# message: `for` loops are not part of the cupar language
# at: for
"""A `for` loop accumulating a sum: cupar has no loops, only primitives and tail recursion."""
from cupar import parallel


@parallel
def total(xs):
    s = 0
    for x in xs:  # <-
        s = s + x
    return s
