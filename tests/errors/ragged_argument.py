# expect: CuparValueError
# message: argument `m` of `row_sums` cannot be made into an array
# at: row_sums(
"""A nested list whose rows have different lengths (cupar's nesting is regular)."""
from cupar import map, parallel, sum


@parallel
def row_sums(m):
    return map(lambda row: sum(row), m)


CALL = lambda: row_sums([[1.0, 2.0], [3.0]])  # <-  # noqa: E731
