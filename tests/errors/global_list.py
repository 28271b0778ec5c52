# expect: CuparTypeError
# message: global `TABLE` is a list, which cupar cannot use
# at: TABLE
"""Reading a module-level Python list."""
import numpy as np
from cupar import gather, parallel

TABLE = [1.0, 2.0, 4.0]


@parallel
def lookup(idx):
    return gather(TABLE, idx)  # <-


CALL = lambda: lookup(np.array([0, 2]))  # noqa: E731
