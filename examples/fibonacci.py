"""Fibonacci numbers by tail recursion, the loop of a data-parallel language, mapped over a
sequence of arguments."""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def fib(n):
    def step(a, b, k):
        if k == 0:
            return a
        return step(b, a + b, k - 1)
    return step(0, 1, n)  # Python ints are int64 inside @parallel


@parallel
def fibs(ns):
    return map(fib, ns)


def reference(ns):
    """F(n) as the top-right entry of [[1, 1], [1, 0]] ** n, in int64."""
    q = np.array([[1, 1], [1, 0]], dtype=np.int64)
    return np.array([np.linalg.matrix_power(q, int(n))[0, 1] for n in ns], dtype=np.int64)


def main():
    ns = np.arange(93, dtype=np.int64)  # F(92) is the largest Fibonacci number in an int64
    with cupar.places.here:
        result = fibs(ns)
    ok = result.dtype == np.int64 and np.array_equal(result, reference(ns))
    print(f"fibonacci (F(0) .. F(92), int64): F(92) = {result[-1]}, "
          f"{'agrees with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
