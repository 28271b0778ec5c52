"""Sparse matrix times dense vector, the matrix in CSR form (values, column indices, row
offsets). One map over the rows; each row reduces over its own range of nonzeros."""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def spmv(values, columns, offsets, x):
    def row(lo, hi):
        nonzeros = bounded_range(lo, hi)
        xs = gather(x, gather(columns, nonzeros))
        return sum(map(op_mul, gather(values, nonzeros), xs))
    return map(lambda i: row(offsets[i], offsets[i + 1]), range(len(offsets) - 1))


def random_csr(rows, cols, density, dtype, rng):
    dense = rng.standard_normal((rows, cols)).astype(dtype)
    dense[rng.random((rows, cols)) >= density] = 0
    dense[rows // 2] = 0  # an empty row, the edge case of the reduction
    nz_rows, nz_cols = np.nonzero(dense)
    offsets = np.searchsorted(nz_rows, np.arange(rows + 1)).astype(np.int32)
    return dense, dense[nz_rows, nz_cols], nz_cols.astype(np.int32), offsets


def main(rows=300, cols=200, density=0.05, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    dense, values, columns, offsets = random_csr(rows, cols, density, dtype, rng)
    x = rng.standard_normal(cols).astype(dtype)
    with cupar.places.here:
        y = spmv(values, columns, offsets, x)
    exact = dense.astype(np.float64) @ x.astype(np.float64)
    # a row of m products, summed in any order: |error| <= (m + 1) eps sum |a_ij x_j|
    per_row = np.diff(offsets) + 1
    bound = per_row * np.finfo(dtype).eps * (np.abs(dense).astype(np.float64) @ np.abs(x))
    ok = y.dtype == dtype and y.shape == (rows,) and np.all(np.abs(y - exact) <= bound)
    print(f"spmv ({rows}x{cols} CSR, {len(values)} nonzeros, {np.dtype(dtype).name}): "
          f"{'agrees with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
