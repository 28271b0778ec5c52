"""Jacobi iteration for Laplace's equation on a 2-D grid held as a sequence of rows.

Each sweep replaces every interior point by the mean of its four neighbours and keeps the
boundary (the Dirichlet condition) fixed. The sweeps are a tail-recursive loop.
"""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def sweep(u):
    ny, nx = len(u), len(u[0])

    def point(r, c):
        if r == 0 or c == 0 or r == ny - 1 or c == nx - 1:
            return u[r][c]
        return 0.25 * (u[r][c - 1] + u[r][c + 1] + u[r - 1][c] + u[r + 1][c])
    return map(lambda r: map(lambda c: point(r, c), range(nx)), range(ny))


@parallel
def jacobi(u, sweeps):
    if sweeps == 0:
        return u
    return jacobi(sweep(u), sweeps - 1)


def reference(u, sweeps):
    u = u.copy()
    for _ in range(sweeps):
        u[1:-1, 1:-1] = 0.25 * (u[1:-1, :-2] + u[1:-1, 2:] + u[:-2, 1:-1] + u[2:, 1:-1])
    return u


def main(n=20, sweeps=40, dtype=np.float32):
    u = np.zeros((n, n), dtype=dtype)
    u[0, :] = 1.0  # a hot top edge
    with cupar.places.here:
        result = jacobi(u, sweeps)
    # each sweep is a convex combination (contractive), adding at most 4 roundings of
    # values no larger than max|u|; errors from earlier sweeps are not amplified
    tol = 4 * sweeps * np.finfo(dtype).eps * np.abs(u).max()
    ok = result.dtype == dtype and result.shape == u.shape and \
        np.abs(result - reference(u, sweeps)).max() <= tol
    print(f"laplace ({n}x{n} grid, {sweeps} Jacobi sweeps, {np.dtype(dtype).name}): "
          f"centre value {result[n // 2, n // 2]:.5f}, "
          f"{'agrees with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
