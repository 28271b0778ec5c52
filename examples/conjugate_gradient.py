"""Conjugate gradients for A x = b, A the 1-D Poisson matrix tridiag(-1, 2, -1).

The matrix is never stored: its product with a vector is index arithmetic over neighbours.
The iterations are a tail-recursive loop carrying the solver's state.
"""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def poisson(x):
    """A x for A = tridiag(-1, 2, -1), zero outside the ends (Dirichlet boundaries)."""
    n = len(x)

    def row(i):
        left = x[i - 1] if i > 0 else 0.0
        right = x[i + 1] if i < n - 1 else 0.0
        return 2.0 * x[i] - left - right
    return map(row, indices(x))


@parallel
def dot(x, y):
    return sum(map(op_mul, x, y))


@parallel
def cg_steps(x, r, p, rr, k, limit, stop):
    if k == limit or rr <= stop:
        return x, k
    ap = poisson(p)
    alpha = rr / dot(p, ap)
    x = map(lambda xi, pi: xi + alpha * pi, x, p)
    r = map(lambda ri, qi: ri - alpha * qi, r, ap)
    rr_next = dot(r, r)
    beta = rr_next / rr
    p = map(lambda ri, pi: ri + beta * pi, r, p)
    return cg_steps(x, r, p, rr_next, k + 1, limit, stop)


@parallel
def conjugate_gradient(b, limit, rtol):
    """Solve from x = 0 until |r| <= rtol |b| or after `limit` steps; return (x, steps)."""
    x = map(lambda bi: 0.0 * bi, b)
    bb = dot(b, b)
    return cg_steps(x, b, b, bb, 0, limit, rtol * rtol * bb)


def poisson_matrix(n):
    return 2.0 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)


def main(n=64, seed=0):
    dtype = np.float64
    b = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    eps = np.finfo(dtype).eps
    with cupar.places.here:
        x, steps = conjugate_gradient(b, 2 * n, n * eps)
    a = poisson_matrix(n)
    exact = np.linalg.solve(a, b)
    # a backward error of about n * eps allows a forward error of cond(A) times that
    tol = np.linalg.cond(a) * n * eps
    error = np.linalg.norm(x - exact) / np.linalg.norm(exact)
    ok = x.dtype == dtype and error <= tol
    print(f"conjugate_gradient (n={n}, {np.dtype(dtype).name}): {steps} steps, relative error "
          f"{error:.2g} (bound {tol:.2g}), {'agrees with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
