# expect: CuparSyntaxError
# message: *args and **kwargs are not supported in cupar function parameters
# at: seqs
"""A variadic `*seqs` parameter."""
from cupar import map, parallel


@parallel
def add_all(*seqs):  # <-
    return map(lambda x: x, seqs[0])
