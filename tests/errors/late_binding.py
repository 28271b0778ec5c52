# expect: CuparSyntaxError
# message: `shifted` reads `offset`, which is assigned again after `shifted` is defined
# at: shifted, xs
"""A local function reading a name assigned again before the function is used: Python reads
the value the name has when the function runs (100), cupar the one before (1)."""
from cupar import map, parallel


@parallel
def late(xs):
    offset = 1

    def shifted(v):
        return v + offset
    offset = 100
    return map(shifted, xs)  # <-
