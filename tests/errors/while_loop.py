# expect: CuparSyntaxError
# message: `while` loops are not part of the cupar language
# at: while
"""A `while` loop counting down."""
from cupar import parallel


@parallel
def countdown(n):
    while n > 0:  # <-
        n = n - 1
    return n
