"""The benchmark programs written in cupar, as a user would write them.

Each is a plain @parallel function; `benchmarks/run.py` times them at `cupar.places.cpu`
against NumPy and hand-written Numba, and (`--place gpu0`) at `cupar.places.gpu0` against
hand-written numba-cuda kernels and CuPy.
"""

# ruff: noqa: F403, F405  (the prelude comes in through the star import, as users write it)
from cupar import *


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


# -- Black-Scholes (the same model as examples/black_scholes.py) ------------------------------
@parallel
def cnd(d):
    """Cumulative normal distribution, Abramowitz & Stegun 26.2.17 (error < 7.5e-8)."""
    k = 1.0 / (1.0 + 0.2316419 * abs(d))
    poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 +
                                                      k * (-1.821255978 + k * 1.330274429))))
    tail = 0.3989422804014327 * exp(-0.5 * d * d) * poly
    return 1.0 - tail if d > 0 else tail


@parallel
def black_scholes(price, strike, years, r, v):
    def option(s, x, t):
        sqrt_t = sqrt(t)
        d1 = (log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        discounted = x * exp(-r * t)
        call = s * cnd(d1) - discounted * cnd(d2)
        put = discounted * (1.0 - cnd(d2)) - s * (1.0 - cnd(d1))
        return call, put
    return map(option, price, strike, years)


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
def softmax(m):
    """Softmax of each row of a matrix (a sequence of rows)."""
    def row(r):
        top = max(r)
        e = map(lambda v: exp(v - top), r)
        s = sum(e)
        return map(lambda v: v / s, e)
    return map(row, m)


# -- Mandelbrot (the per-pixel loop is tail recursion) ------------------------------------------
@parallel
def escape_time(cr, ci, limit):
    def iterate(zr, zi, k):
        if k == limit or zr * zr + zi * zi > 4.0:
            return k
        return iterate(zr * zr - zi * zi + cr, 2.0 * zr * zi + ci, k + 1)
    return iterate(0.0 * cr, 0.0 * ci, 0)


@parallel
def mandelbrot(cr, ci, limit):
    return map(lambda a, b: escape_time(a, b, limit), cr, ci)
