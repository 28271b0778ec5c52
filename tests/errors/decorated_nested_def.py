# expect: CuparSyntaxError
# message: decorators are not supported on a nested def
# at: staticmethod
"""A decorator on a nested def."""
from cupar import parallel


@parallel
def twice(x):
    @staticmethod  # <-
    def double(y):
        return 2 * y
    return double(x)
