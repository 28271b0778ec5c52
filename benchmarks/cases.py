"""The benchmark cases: inputs, the NumPy user's code, the check and cupar's program.

A case is the same for every place: its inputs are drawn from a generator seeded by the
case's name, so every implementation (and every run) sees the same data, and its check
compares with a float64 (or exact) NumPy answer. The place's own implementations (Numba
CPU kernels, numba-cuda kernels, CuPy) are looked up by the case's name elsewhere.

Sizes follow N: 1-D cases have N float32 elements, SpMV N/16 rows (about 10 nonzeros a row
and int32 indices; spmv_rows about 16 and int64), softmax N/4096 rows of 1024, column sums
N/1024 rows of 1024, Mandelbrot sqrt(N/16) pixels square with 256 steps at most, histograms
N values (float32 or int64, integer-valued so that any order of the additions gives the exact
answer) into 256, N/16 and N bins.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import programs as P
from checks import EPS, F32, all_of, exact, mostly_exact, reduction_tolerance, within
from references import np_black_scholes, np_mandelbrot, np_permute, np_softmax, np_spmv


@dataclass
class Case:
    name: str
    what: str
    args: tuple                # host inputs: cupar's arguments, and everyone else's
    numpy: Callable            # (xp, *args) -> result: the NumPy user's code (CuPy: xp=cupy)
    check: Callable            # host result -> None or a problem
    program: object = None     # the cupar @parallel function, or None where cupar has none
    bytes: int | None = None   # bytes the kernel must move, for memory-bound kernels
    notes: list = field(default_factory=list)
    gpu_check: Callable | None = None  # where the GPU's arithmetic legitimately differs
    out_arg: bool = False      # the last argument is the output: cupar takes it as out=
    settle_s: float = 0.0      # a pause before each implementation's runs, so that another
    # library's threads stop spinning first (OpenBLAS's spin about 0.1 s after each call)
    calls: int = 1             # calls a timed run makes (tiny cases: timer resolution, noise)

    def program_args(self) -> tuple:
        return self.args[:-1] if self.out_arg else self.args

    def program_keywords(self) -> dict:
        return {"out": self.args[-1]} if self.out_arg else {}


def saxpy_check(a, x, y):
    ax, y64 = np.float64(a) * x, y.astype(np.float64)
    return within(ax + y64, 2 * EPS * (np.abs(ax) + np.abs(y64)))


def make_saxpy(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    a = F32(1.5)
    return Case("saxpy", "a*x + y, new output", (a, x, y), lambda xp, a, x, y: a * x + y,
                saxpy_check(a, x, y), P.saxpy, bytes=3 * 4 * n)


def saxpy_into(xp, a, x, y, out):
    xp.multiply(a, x, out=out)
    return xp.add(out, y, out=out)


def make_saxpy_reused(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    a = F32(1.5)
    out = np.empty_like(x)
    return Case("saxpy_reused", "a*x + y into a reused output", (a, x, y, out), saxpy_into,
                saxpy_check(a, x, y), P.saxpy, bytes=3 * 4 * n, out_arg=True)


def make_black_scholes(n, rng):
    s = rng.uniform(5.0, 30.0, n).astype(F32)
    x = rng.uniform(1.0, 100.0, n).astype(F32)
    t = rng.uniform(0.25, 10.0, n).astype(F32)
    r, v = F32(0.02), F32(0.30)
    call64, put64 = np_black_scholes(s.astype(np.float64), x.astype(np.float64),
                                     t.astype(np.float64), 0.02, 0.30)
    # absolute, on the scale of the prices: float32 roundings in log, exp, sqrt, polynomial
    tol = 16 * EPS * (s.astype(np.float64) + x)
    return Case("black_scholes", "call and put, float32", (s, x, t, r, v),
                lambda xp, *args: np_black_scholes(*args, xp=xp),
                all_of(within(call64, tol), within(put64, tol)), P.black_scholes)


def make_sum(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    x64 = x.astype(np.float64)
    return Case("sum", "sum(x)", (x,), lambda xp, x: xp.sum(x),
                within(np.sum(x64), reduction_tolerance(x64)), P.total, bytes=4 * n)


def make_dot(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    terms = x.astype(np.float64) * y
    return Case("dot", "sum(x*y)", (x, y), lambda xp, x, y: xp.dot(x, y),
                within(np.sum(terms), reduction_tolerance(terms)), P.dot, bytes=8 * n)


def make_nrm2(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    sq = x.astype(np.float64) ** 2
    norm = math.sqrt(np.sum(sq))
    # sqrt halves the relative error of the sum of squares, then rounds once more
    tol = norm * (reduction_tolerance(sq) / max(np.sum(sq), 1e-300) / 2 + EPS)
    return Case("nrm2", "sqrt(sum(x*x))", (x,), lambda xp, x: xp.linalg.norm(x),
                within(norm, tol), P.nrm2, bytes=4 * n)


def make_distance(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    sq = (x.astype(np.float64) - y) ** 2
    norm = math.sqrt(np.sum(sq))
    # each term: a float32 difference and square (3 eps); sqrt halves, then rounds once more
    tol = norm * (reduction_tolerance(sq) / max(np.sum(sq), 1e-300) / 2 + 3 * EPS)
    return Case("distance", "sqrt(sum(map(d2, x, y))), d2 a nested def", (x, y),
                lambda xp, x, y: xp.linalg.norm(x - y), within(norm, tol), P.distance,
                bytes=8 * n)


def scan_check(x):
    prefix = np.cumsum(x.astype(np.float64))
    # per element k: the reduction tolerance of its k+1 terms
    scale = np.maximum.accumulate(np.abs(prefix))
    return within(prefix, 4 * EPS * np.sqrt(np.arange(1, x.shape[0] + 1)) * scale)


def make_scan(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    return Case("scan", "inclusive cumsum", (x,), lambda xp, x: xp.cumsum(x),
                scan_check(x), P.cumsum, bytes=8 * n)


def make_scan_reused(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    return Case("scan_reused", "inclusive cumsum into a reused output", (x, np.empty_like(x)),
                lambda xp, x, out: xp.cumsum(x, out=out), scan_check(x), P.cumsum,
                bytes=8 * n, out_arg=True)


def make_gather(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    idx = rng.integers(0, n, n, dtype=np.int32)
    return Case("gather", "x[idx], random int32 idx", (x, idx), lambda xp, x, idx: x[idx],
                exact(x[idx]), P.gather_at, bytes=12 * n)


def make_scatter(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    idx = rng.permutation(n).astype(np.int32)
    return Case("scatter", "permute(x, idx), random permutation", (x, idx),
                lambda xp, x, idx: np_permute(x, idx, xp), exact(np_permute(x, idx)),
                P.permute_by, bytes=12 * n)


def make_filter(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    expected = x[x > 0]
    return Case("filter", "x[x > 0]", (x,), lambda xp, x: x[x > 0], exact(expected),
                P.positives, bytes=4 * n + 4 * expected.size)


def make_sort_f32(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    return Case("sort_f32", "sort(cmp_lt, x), float32", (x,), lambda xp, x: xp.sort(x),
                exact(np.sort(x)), P.sort_ascending)


def make_sort_i32(n, rng):
    x = rng.integers(np.iinfo(np.int32).min, np.iinfo(np.int32).max, n, dtype=np.int32)
    return Case("sort_i32", "sort(cmp_lt, x), int32", (x,), lambda xp, x: xp.sort(x),
                exact(np.sort(x)), P.sort_ascending)


def csr_matrix(rng, rows: int, fewest: int, most: int, index):
    """A random CSR matrix of `rows` square rows, fewest..most nonzeros a row (uniform), random
    columns: (values, columns, offsets, nonzeros per row), the indices of dtype `index`."""
    per_row = rng.integers(fewest, most + 1, rows)
    offsets = np.zeros(rows + 1, np.int64)
    np.cumsum(per_row, out=offsets[1:])
    nnz = int(offsets[-1])
    columns = rng.integers(0, rows, nnz, dtype=index)
    values = rng.standard_normal(nnz, dtype=F32)
    return values, columns, offsets.astype(index), per_row


def spmv_check(values, columns, per_row, x):
    rows = len(per_row)
    row_of = np.repeat(np.arange(rows), per_row)
    terms = values.astype(np.float64) * x[columns]
    exact64 = np.bincount(row_of, terms, minlength=rows)
    # a row of m products summed in any order: |error| <= (m + 1) eps sum |a_ij x_j|
    bound = (per_row + 1) * EPS * np.bincount(row_of, np.abs(terms), minlength=rows)
    return within(exact64, bound)


def make_spmv(n, rng):
    rows = max(n // 16, 1)
    # about 10 nonzeros per row, some rows empty
    values, columns, offsets, per_row = csr_matrix(rng, rows, 0, 20, np.int32)
    x = rng.standard_normal(rows, dtype=F32)
    nnz = values.shape[0]
    return Case("spmv", f"CSR, {rows} rows, {nnz / rows:.1f} nnz/row",
                (values, columns, offsets, x), lambda xp, *args: np_spmv(*args),
                spmv_check(values, columns, per_row, x), P.spmv,
                bytes=8 * nnz + 4 * (rows + 1) + 4 * rows + 4 * rows)


def make_spmv_rows(n, rng):
    """The same product written row by row with subscripts (programs.spmv_rows), int64
    indices, 8 to 24 nonzeros a row."""
    rows = max(n // 16, 1)
    values, columns, offsets, per_row = csr_matrix(rng, rows, 8, 24, np.int64)
    x = rng.standard_normal(rows, dtype=F32)
    nnz = values.shape[0]
    return Case("spmv_rows", f"CSR by rows, int64 indices, {rows} rows, {nnz / rows:.1f} "
                "nnz/row", (values, columns, offsets, x), lambda xp, *args: np_spmv(*args),
                spmv_check(values, columns, per_row, x), P.spmv_rows,
                bytes=12 * nnz + 8 * (rows + 1) + 4 * rows + 4 * rows)


def make_softmax(n, rng):
    rows, cols = max(n // 4096, 1), 1024
    m = rng.standard_normal((rows, cols), dtype=F32)
    m64 = m.astype(np.float64)
    e = np.exp(m64 - m64.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    # exp (a few ulps), a row sum of `cols` positive terms, one division: relative error
    tol = (cols + 8) * EPS * ref
    return Case("softmax", f"rows of {rows}x{cols}", (m,),
                lambda xp, m: np_softmax(m, xp), within(ref, tol), P.softmax,
                bytes=2 * 4 * rows * cols)


def make_column_sums(n, rng):
    rows, cols = max(n // 1024, 1), 1024
    m = rng.standard_normal((rows, cols), dtype=F32)
    exact64 = m.astype(np.float64).sum(axis=0)
    # each column: `rows` terms in order, so |error| <= rows eps sum |terms|
    tol = (rows + 1) * EPS * np.abs(m.astype(np.float64)).sum(axis=0)
    return Case("column_sums", f"columns of {rows}x{cols}", (m, np.zeros(cols, F32)),
                lambda xp, m, start: start + m.sum(axis=0), within(exact64, tol),
                P.column_sums, bytes=4 * rows * cols)


def make_mandelbrot(n, rng):
    side = max(int(math.isqrt(max(n // 16, 1))), 1)
    limit = 256
    re, im = np.meshgrid(np.linspace(-2.0, 0.6, side), np.linspace(-1.2, 1.2, side))
    cr, ci = re.ravel().astype(F32), im.ravel().astype(F32)
    counts = np_mandelbrot(cr, ci, limit)
    return Case("mandelbrot", f"{side}x{side}, {limit} steps at most", (cr, ci, limit),
                lambda xp, *args: np_mandelbrot(*args, xp=xp), exact(counts), P.mandelbrot,
                # the hand-written kernel, CuPy and cupar's gpu0_fastmath fuse multiply-adds;
                # gpu0 does not (its counts are here's: tests/test_gpu.py)
                gpu_check=mostly_exact(counts, 1e-3))


def np_scatter_add(xp, dest, idx, values):
    out = dest.copy()
    xp.add.at(out, idx, values)
    return out


def histogram_maker(name: str, dtype: str, bins_of: Callable[[int], int]):
    """reduce_by_index(op_add, dest, idx, values) of N values into bins_of(N) bins."""
    def make(n, rng):
        bins = max(bins_of(n), 1)
        idx = rng.integers(0, bins, n, dtype=np.int32)
        values = rng.integers(-8, 8, n).astype(dtype)
        dest = rng.integers(-8, 8, bins).astype(dtype)
        expected = dest + np.bincount(idx, values.astype(np.float64), bins).astype(dtype)
        return Case(name, f"{n} {dtype} into {bins} bins", (dest, idx, values),
                    np_scatter_add, exact(expected), P.scatter_add,
                    bytes=(4 + np.dtype(dtype).itemsize) * n + 2 * dest.nbytes)
    return make


HISTOGRAMS = {f"histogram_{d}_{label}": histogram_maker(f"histogram_{d}_{label}", d, bins)
              for d in ("float32", "int64")
              for label, bins in (("256", lambda n: 256), ("n16", lambda n: n // 16),
                                  ("n", lambda n: n))}


def product_check(a, b, extra=lambda c: c):
    """Within k eps |a| @ |b| (k products summed in any order) of the float64 product."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return within(extra(a64 @ b64), (a.shape[1] + 2) * EPS * (np.abs(a64) @ np.abs(b64)))


def matmul_case(name, what, n, k, m, rng, calls=1):
    """a (n x k) @ b (k x m), float32; `calls` products per timed run (tiny sizes)."""
    a, b = (rng.standard_normal(s, dtype=F32) for s in ((n, k), (k, m)))
    return Case(name, what, (a, b), lambda xp, a, b: a @ b, product_check(a, b), P.product,
                settle_s=0.3, calls=calls,
                notes=[f"{2 * n * k * m * calls / 1e9:.3f} GFLOP a run"])


def make_matmul_1024(n, rng):
    side = 1024 if n >= 1 << 20 else 64
    return matmul_case("matmul_1024", f"{side}^3 float32", side, side, side, rng)


def make_matmul_mid(n, rng):
    rows, side = (256, 512) if n >= 1 << 20 else (16, 32)
    return matmul_case("matmul_mid", f"{rows}x{side} @ {side}x{side}", rows, side, side, rng)


def make_matmul_small(n, rng):
    return matmul_case("matmul_small", "32x64 @ 64x128, 100 calls a run", 32, 64, 128, rng,
                       calls=100)


def make_linear_relu(n, rng):
    side = 1024 if n >= 1 << 20 else 64
    x, w = rng.standard_normal((2, side, side), dtype=F32)
    b = rng.standard_normal(side, dtype=F32)
    check = product_check(x, w, lambda c: np.maximum(c + b, 0))
    return Case("linear_relu", f"max(x @ w + b, 0), {side}^3", (x, w, b),
                lambda xp, x, w, b: xp.maximum(x @ w + b, 0), check, P.linear_relu,
                settle_s=0.3)


MAKERS = {f.__name__[5:]: f for f in (
    make_saxpy, make_saxpy_reused, make_black_scholes, make_sum, make_dot, make_nrm2,
    make_distance, make_scan, make_scan_reused, make_gather, make_scatter, make_filter,
    make_sort_f32, make_sort_i32, make_spmv, make_spmv_rows, make_softmax, make_column_sums,
    make_mandelbrot,
    make_matmul_1024, make_matmul_mid, make_matmul_small, make_linear_relu)} | HISTOGRAMS
ORDER = list(MAKERS)


def make_case(name: str, n: int) -> Case:
    """The case `name` at size n, its data drawn from a generator seeded by the name."""
    return MAKERS[name](n, np.random.default_rng(zlib.crc32(name.encode())))
