"""The benchmark programs written in cupar, as a user would write them.

Each is a plain @parallel function; `benchmarks/run.py` times them at `cupar.places.cpu`
against NumPy and hand-written Numba, and (`--place gpu0`) at `cupar.places.gpu0` against
hand-written numba-cuda kernels and CuPy.
"""

# ruff: noqa: F403, F405  (the prelude comes in through the star import, as users write it)
import sys
from pathlib import Path

from cupar import *

# Black-Scholes and Mandelbrot are the examples' own programs, not copies of them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from black_scholes import black_scholes  # noqa: E402,F401
from mandelbrot import mandelbrot  # noqa: E402,F401


# -- BLAS level 1 ------------------------------------------------------------------------------
@parallel
def saxpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def total(x):
    return sum(x)


@parallel
def dot(x, y):
    return sum(map(op_mul, x, y))


@parallel
def nrm2(x):
    return sqrt(sum(map(lambda xi: xi * xi, x)))


@parallel
def distance(x, y):
    """The Euclidean distance, its squared difference a nested function."""
    def d2(a, b):
        d = a - b
        return d * d
    return sqrt(sum(map(d2, x, y)))


# -- scans, data movement, sorting --------------------------------------------------------------
@parallel
def cumsum(x):
    return scan(op_add, x)


@parallel
def gather_at(x, idx):
    return gather(x, idx)


@parallel
def permute_by(x, idx):
    return permute(x, idx)


@parallel
def positives(x):
    return filter(lambda xi: xi > 0, x)


@parallel
def sort_ascending(x):
    return sort(cmp_lt, x)

# -- sparse and dense rows -----------------------------------------------------------------------
@parallel
def spmv(values, columns, offsets, x):
    """y = A x, A in CSR form: one map over the rows, a reduction per row."""
    def row(lo, hi):
        nonzeros = bounded_range(lo, hi)
        xs = gather(x, gather(columns, nonzeros))
        return sum(map(op_mul, gather(values, nonzeros), xs))
    return map(lambda i: row(offsets[i], offsets[i + 1]), range(len(offsets) - 1))


@parallel
def spmv_rows(data, cols, rowptr, x):
    """SpMV as a user writes it row by row: each row a sum over its index range, reading the
    nonzeros and x by subscripts."""
    def row(i):
        return sum(map(lambda k: data[k] * x[cols[k]], bounded_range(rowptr[i], rowptr[i + 1])))
    return map(row, range(len(rowptr) - 1))


@parallel
def softmax(m):
    """Softmax of each row of a matrix (a sequence of rows)."""
    def row(r):
        top = max(r)
        e = map(lambda v: exp(v - top), r)
        s = sum(e)
        return map(lambda v: v / s, e)
    return map(row, m)


@parallel
def column_sums(m, start):
    """The sum of each column of a matrix: a reduction whose elements are rows."""
    return reduce(lambda a, b: map(op_add, a, b), m, start)


# -- histograms ---------------------------------------------------------------------------------
@parallel
def scatter_add(dest, idx, values):
    return reduce_by_index(op_add, dest, idx, values)


# -- matrices ------------------------------------------------------------------------------------
@parallel
def product(a, b):
    return matmul(a, b)


@parallel
def linear_relu(x, w, b):
    return map(lambda row: map(lambda v, bi: max(v + bi, 0.0), row, b), matmul(x, w))
