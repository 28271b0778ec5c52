# expect: CuparValueError
# message: argument `x` of `bump` is 1180591620717411303424, which does not fit in int64
# at: bump(
"""A Python int too large for cupar's 64-bit integers."""
from cupar import parallel


@parallel
def bump(x):
    return x + 1


CALL = lambda: bump(2**70)  # <-  # noqa: E731
