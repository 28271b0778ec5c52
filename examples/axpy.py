"""BLAS level 1 in cupar: axpy (a*x + y) and nrm2 (the Euclidean norm), checked against NumPy."""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def nrm2(x):
    return sqrt(sum(map(lambda xi: xi * xi, x)))


def check(n, dtype, seed):
    """Run both at places.here; return the names that disagree with NumPy, and the norm."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, n)).astype(dtype)
    a = dtype(1.5)
    with cupar.places.here:
        z, norm = axpy(a, x, y), nrm2(x)
    eps = np.finfo(dtype).eps
    errors = []
    # one multiply and one add per element: two roundings, each relative to its operands
    ax, y64 = np.float64(a) * x, y.astype(np.float64)
    bound = 2 * eps * (np.abs(ax) + np.abs(y64))
    if z.dtype != dtype or np.any(np.abs(z - (ax + y64)) > bound):
        errors.append("axpy")
    # the sum of n squares may be grouped in any order: error grows at most like n * eps
    if np.asarray(norm).dtype != dtype or \
            not np.isclose(norm, np.linalg.norm(x.astype(np.float64)), rtol=n * eps, atol=0):
        errors.append("nrm2")
    return errors, norm


def main(n=2000, dtype=np.float32, seed=0):
    errors, norm = check(n, dtype, seed)
    print(f"axpy, nrm2 (n={n}, {np.dtype(dtype).name}): nrm2 = {norm!s}; "
          f"{'MISMATCH in ' + ', '.join(errors) if errors else 'agree with NumPy'}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
