# expect: CuparSyntaxError
# message: only list comprehensions over one sequence or one zip(...) are supported
# at: [
"""A comprehension with two `for` clauses (an outer product)."""
from cupar import parallel


@parallel
def products(xs, ys):
    return [x * y for x in xs for y in ys]  # <-
