# expect: CuparSyntaxError
# message: the `try` statement is not supported inside @parallel
# at: try
"""Catching an exception inside a @parallel function."""
from cupar import parallel


@parallel
def safe_div(a, b):
    try:  # <-
        return a / b
    except ZeroDivisionError:
        return 0.0
