"""cupar at places.cpu against NumPy and hand-written Numba (and scipy where relevant).

    python benchmarks/run.py [--size N] [--repeat R] [--json FILE] [--only NAME,...]

One run measures the machine's memory bandwidth (a Numba parallel triad), checks every
implementation of every benchmark against NumPy, times them (medians of --repeat runs after a
warm-up, the implementations taking turns run by run so that drift on a shared machine hits
all of them alike), measures cupar's cold and warm-cache start-up in fresh subprocesses, and writes
benchmarks/RESULTS.md (and --json FILE).

Sizes follow --size N (default 2^24): 1-D benchmarks have N float32 elements, SpMV N/16 rows,
softmax N/4096 rows of 1024, Mandelbrot sqrt(N/16) pixels square with 256 steps at most.
A cupar program that would fall back to the interpreter is skipped, with the reason, and
never timed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import numba  # noqa: E402
from numba import njit, prange  # noqa: E402

import cupar  # noqa: E402
import programs as P  # noqa: E402

try:
    import scipy
    import scipy.sparse
except ImportError:  # optional: the SpMV row then has no scipy column
    scipy = None

F32 = np.float32
CPU = cupar.places.cpu


# =============================================================================================
# Hand-written Numba: what a competent user writes (prange loops, float32 throughout).
# =============================================================================================
@njit(parallel=True)
def nb_triad(a, x, y, out):
    """The bandwidth probe: a*x + y into a buffer that is reused from run to run."""
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]


@njit(parallel=True)
def nb_saxpy(a, x, y):
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]
    return out


# fastmath on the three reductions below: it lets LLVM reassociate the float sum so that it
# vectorises. A user summing floats in parallel has already given up a fixed order, and
# the data hold no NaN or infinity.
@njit(parallel=True, fastmath=True)
def nb_sum(x):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        s += x[i]
    return s


@njit(parallel=True, fastmath=True)
def nb_dot(x, y):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        s += x[i] * y[i]
    return s


@njit(parallel=True, fastmath=True)
def nb_nrm2(x):
    s = F32(0.0)
    for i in prange(x.shape[0]):
        s += x[i] * x[i]
    return np.sqrt(s)


# float32 constants (Numba reads module globals as compile-time constants of their type;
# a plain 0.5 would be float64 and turn the whole computation into float64).
A1, A2, A3, A4, A5 = F32(0.31938153), F32(-0.356563782), F32(1.781477937), F32(-1.821255978), \
    F32(1.330274429)
K0, RSQRT2PI, HALF, ONE, TWO, FOUR = F32(0.2316419), F32(0.3989422804014327), F32(0.5), \
    F32(1.0), F32(2.0), F32(4.0)


@njit(inline="always")  # Numba's own inlining: measured faster here than a plain call
def nb_cnd(d):
    k = ONE / (ONE + K0 * abs(d))
    poly = k * (A1 + k * (A2 + k * (A3 + k * (A4 + k * A5))))
    tail = RSQRT2PI * np.exp(-HALF * d * d) * poly
    return ONE - tail if d > 0 else tail


@njit(parallel=True)
def nb_black_scholes(price, strike, years, r, v):
    n = price.shape[0]
    call = np.empty(n, np.float32)
    put = np.empty(n, np.float32)
    for i in prange(n):
        s, x, t = price[i], strike[i], years[i]
        sqrt_t = np.sqrt(t)
        d1 = (np.log(s / x) + (r + HALF * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        discounted = x * np.exp(-r * t)
        c1, c2 = nb_cnd(d1), nb_cnd(d2)
        call[i] = s * c1 - discounted * c2
        put[i] = discounted * (ONE - c2) - s * (ONE - c1)
    return call, put


@njit(parallel=True)
def nb_cumsum(x, chunks):
    """Two passes: chunk totals in parallel, their prefix serially, chunks scanned in parallel."""
    n = x.shape[0]
    out = np.empty_like(x)
    totals = np.zeros(chunks, np.float32)
    for c in prange(chunks):
        s = F32(0.0)
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            s += x[i]
        totals[c] = s
    starts = np.zeros(chunks, np.float32)
    for c in range(1, chunks):
        starts[c] = starts[c - 1] + totals[c - 1]
    for c in prange(chunks):
        s = starts[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            s += x[i]
            out[i] = s
    return out


@njit(parallel=True)
def nb_gather(x, idx):
    out = np.empty(idx.shape[0], x.dtype)
    for i in prange(idx.shape[0]):
        out[i] = x[idx[i]]
    return out


@njit(parallel=True)
def nb_permute(x, idx):
    out = np.empty_like(x)  # idx is a permutation: every element is written
    for i in prange(idx.shape[0]):
        out[idx[i]] = x[i]
    return out


@njit(parallel=True)
def nb_positives(x, chunks):
    """Count per chunk in parallel, prefix the counts, write per chunk in parallel."""
    n = x.shape[0]
    counts = np.zeros(chunks, np.int64)
    for c in prange(chunks):
        k = 0
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            if x[i] > 0:
                k += 1
        counts[c] = k
    starts = np.zeros(chunks + 1, np.int64)
    for c in range(chunks):
        starts[c + 1] = starts[c] + counts[c]
    out = np.empty(starts[chunks], x.dtype)
    for c in prange(chunks):
        at = starts[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            if x[i] > 0:
                out[at] = x[i]
                at += 1
    return out


@njit
def nb_sort(x):
    return np.sort(x)  # what a Numba user writes; Numba's np.sort runs on one thread


@njit(parallel=True)
def nb_spmv(values, columns, offsets, x):
    rows = offsets.shape[0] - 1
    y = np.empty(rows, np.float32)
    for i in prange(rows):
        s = F32(0.0)
        for k in range(offsets[i], offsets[i + 1]):
            s += values[k] * x[columns[k]]
        y[i] = s
    return y


@njit(parallel=True)
def nb_softmax(m):
    rows, cols = m.shape
    out = np.empty_like(m)
    for i in prange(rows):
        top = m[i, 0]
        for j in range(1, cols):
            top = max(top, m[i, j])
        s = F32(0.0)
        for j in range(cols):
            e = np.exp(m[i, j] - top)
            out[i, j] = e
            s += e
        for j in range(cols):
            out[i, j] = out[i, j] / s
    return out


@njit(parallel=True)
def nb_mandelbrot(cr, ci, limit):
    out = np.empty(cr.shape[0], np.int64)
    for p in prange(cr.shape[0]):
        c_r, c_i = cr[p], ci[p]
        zr, zi = F32(0.0), F32(0.0)
        k = 0
        while k < limit and zr * zr + zi * zi <= FOUR:
            zr, zi = zr * zr - zi * zi + c_r, TWO * zr * zi + c_i
            k += 1
        out[p] = k
    return out


# =============================================================================================
# NumPy: the vectorised code a NumPy user writes.
# =============================================================================================
def np_cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * np.abs(d))
    poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 +
                                                      k * (-1.821255978 + k * 1.330274429))))
    tail = 0.3989422804014327 * np.exp(-0.5 * d * d) * poly
    return np.where(d > 0, 1.0 - tail, tail)


def np_black_scholes(s, x, t, r, v):
    sqrt_t = np.sqrt(t)
    d1 = (np.log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    discounted = x * np.exp(-r * t)
    c1, c2 = np_cnd(d1), np_cnd(d2)
    return s * c1 - discounted * c2, discounted * (1.0 - c2) - s * (1.0 - c1)


def np_permute(x, idx):
    out = np.empty_like(x)
    out[idx] = x
    return out


def np_spmv(values, columns, offsets, x):
    starts, ends = offsets[:-1], offsets[1:]
    filled = starts < ends  # reduceat gives an element, not 0, for an empty row
    y = np.zeros(len(starts), values.dtype)
    y[filled] = np.add.reduceat(values * x[columns], starts[filled])
    return y


def np_softmax(m):
    e = np.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_mandelbrot(cr, ci, limit):
    zr, zi = np.zeros_like(cr), np.zeros_like(ci)
    counts = np.zeros(cr.shape, dtype=np.int64)
    for k in range(limit):
        live = zr * zr + zi * zi <= 4.0
        counts[live] = k + 1
        zr, zi = (np.where(live, zr * zr - zi * zi + cr, zr),
                  np.where(live, 2.0 * zr * zi + ci, zi))
    return counts


# =============================================================================================
# Checks: integers exactly, floats within a tolerance derived from the dtype's epsilon.
# =============================================================================================
EPS = float(np.finfo(F32).eps)


def as_result(value):
    """cupar returns sequences of tuples as TupleSeq; compare their columns."""
    if hasattr(value, "columns"):
        return tuple(value.columns)
    return value


def exact(expected):
    def check(got):
        got = as_result(got)
        if not isinstance(got, np.ndarray) or got.dtype != expected.dtype:
            return f"expected {expected.dtype} array, got {type(got).__name__} " \
                   f"{getattr(got, 'dtype', '')}"
        if got.shape != expected.shape:
            return f"shape {got.shape}, expected {expected.shape}"
        bad = np.flatnonzero(got != expected)
        if bad.size:
            return f"{bad.size} elements differ, first at {bad[0]}: {got[bad[0]]!r} " \
                   f"vs {expected[bad[0]]!r}"
        return None
    return check


def within(expected64, tol, dtype=F32):
    """|got - expected| <= tol elementwise (tol an array or a number), got of dtype."""
    def check(got):
        got = as_result(got)
        got = np.asarray(got)
        if got.dtype != dtype:
            return f"result has dtype {got.dtype}, expected {np.dtype(dtype)}"
        if got.shape != np.shape(expected64):
            return f"shape {got.shape}, expected {np.shape(expected64)}"
        err = np.abs(got.astype(np.float64) - expected64)
        excess = err - tol
        worst = int(np.argmax(excess)) if excess.ndim else 0
        if not np.all(np.isfinite(got)) or np.any(excess > 0):
            e = err.flat[worst] if err.ndim else float(err)
            t = np.broadcast_to(tol, err.shape).flat[worst] if err.ndim else float(tol)
            return f"error {e:.3g} > tolerance {t:.3g} (at flat index {worst})"
        return None
    return check


def reduction_tolerance(terms64):
    """For a float32 sum of m terms in any order: 4 eps sqrt(m) max|partial sum|. (The
    worst-case bound, m eps sum|terms|, is vacuous at m = 2^24 in float32; rounding errors
    behave like a random walk, hence sqrt(m). Blocks of terms summed by a reassociated order
    are differences of two prefix sums, hence the largest prefix sum as the scale.)"""
    m = max(len(terms64), 1)
    prefix = np.cumsum(terms64)
    scale = float(np.max(np.abs(prefix))) if prefix.size else 0.0
    return 4 * EPS * math.sqrt(m) * scale


def all_of(*checks):
    def check(got):
        got = as_result(got)
        for c, g in zip(checks, got):
            problem = c(g)
            if problem:
                return problem
        return None
    return check


# =============================================================================================
# The benchmarks.
# =============================================================================================
@dataclass
class Bench:
    name: str
    what: str
    impls: dict            # label -> zero-argument callable
    check: Callable        # result -> None or a problem
    cupar: tuple           # (ParallelFunction, args)
    bytes: int | None = None   # bytes the kernel must move, for memory-bound kernels
    notes: list = field(default_factory=list)


def chunks():
    return 4 * numba.get_num_threads()


def make_saxpy(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    a = F32(1.5)
    ax, y64 = np.float64(a) * x, y.astype(np.float64)
    check = within(ax + y64, 2 * EPS * (np.abs(ax) + np.abs(y64)))
    return Bench("saxpy", "a*x + y, new output", {
        "numpy": lambda: a * x + y,
        "numba": lambda: nb_saxpy(a, x, y),
    }, check, (P.saxpy, (a, x, y)), bytes=3 * 4 * n)


def make_saxpy_reused(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    a = F32(1.5)
    out = np.empty_like(x)

    def np_reused():
        np.multiply(a, x, out=out)
        return np.add(out, y, out=out)

    def nb_reused():
        nb_triad(a, x, y, out)
        return out
    ax, y64 = np.float64(a) * x, y.astype(np.float64)
    b = Bench("saxpy_reused", "a*x + y into a reused output", {
        "numpy": np_reused, "numba": nb_reused,
    }, within(ax + y64, 2 * EPS * (np.abs(ax) + np.abs(y64))), None, bytes=3 * 4 * n)
    b.notes.append("cupar has no way to write into an existing array (map always allocates): "
                   "no cupar row; compare cupar's saxpy")
    return b


def make_black_scholes(n, rng):
    s = rng.uniform(5.0, 30.0, n).astype(F32)
    x = rng.uniform(1.0, 100.0, n).astype(F32)
    t = rng.uniform(0.25, 10.0, n).astype(F32)
    r, v = F32(0.02), F32(0.30)
    call64, put64 = np_black_scholes(s.astype(np.float64), x.astype(np.float64),
                                     t.astype(np.float64), 0.02, 0.30)
    # absolute, on the scale of the prices: float32 roundings in log, exp, sqrt, polynomial
    tol = 16 * EPS * (s.astype(np.float64) + x)
    return Bench("black_scholes", "call and put, float32", {
        "numpy": lambda: np_black_scholes(s, x, t, r, v),
        "numba": lambda: nb_black_scholes(s, x, t, r, v),
    }, all_of(within(call64, tol), within(put64, tol)), (P.black_scholes, (s, x, t, r, v)))


def make_sum(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    x64 = x.astype(np.float64)
    return Bench("sum", "sum(x)", {
        "numpy": lambda: np.sum(x),
        "numba": lambda: F32(nb_sum(x)),  # Numba boxes a float32 result as a Python float
    }, within(np.sum(x64), reduction_tolerance(x64)), (P.total, (x,)), bytes=4 * n)


def make_dot(n, rng):
    x, y = rng.standard_normal((2, n), dtype=F32)
    terms = x.astype(np.float64) * y
    return Bench("dot", "sum(x*y)", {
        "numpy": lambda: np.dot(x, y),
        "numba": lambda: F32(nb_dot(x, y)),
    }, within(np.sum(terms), reduction_tolerance(terms)), (P.dot, (x, y)), bytes=8 * n)


def make_nrm2(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    sq = x.astype(np.float64) ** 2
    norm = math.sqrt(np.sum(sq))
    # sqrt halves the relative error of the sum of squares, then rounds once more
    tol = norm * (reduction_tolerance(sq) / max(np.sum(sq), 1e-300) / 2 + EPS)
    return Bench("nrm2", "sqrt(sum(x*x))", {
        "numpy": lambda: np.linalg.norm(x),
        "numba": lambda: F32(nb_nrm2(x)),
    }, within(norm, tol), (P.nrm2, (x,)), bytes=4 * n)


def make_scan(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    prefix = np.cumsum(x.astype(np.float64))
    # per element k: the reduction tolerance of its k+1 terms
    scale = np.maximum.accumulate(np.abs(prefix))
    tol = 4 * EPS * np.sqrt(np.arange(1, n + 1)) * scale
    k = chunks()
    return Bench("scan", "inclusive cumsum", {
        "numpy": lambda: np.cumsum(x),
        "numba": lambda: nb_cumsum(x, k),
    }, within(prefix, tol), (P.cumsum, (x,)), bytes=8 * n)


def make_gather(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    idx = rng.integers(0, n, n, dtype=np.int32)
    return Bench("gather", "x[idx], random int32 idx", {
        "numpy": lambda: x[idx],
        "numba": lambda: nb_gather(x, idx),
    }, exact(x[idx]), (P.gather_at, (x, idx)), bytes=12 * n)


def make_scatter(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    idx = rng.permutation(n).astype(np.int32)
    return Bench("scatter", "permute(x, idx), random permutation", {
        "numpy": lambda: np_permute(x, idx),
        "numba": lambda: nb_permute(x, idx),
    }, exact(np_permute(x, idx)), (P.permute_by, (x, idx)), bytes=12 * n)


def make_filter(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    expected = x[x > 0]
    k = chunks()
    return Bench("filter", "x[x > 0]", {
        "numpy": lambda: x[x > 0],
        "numba": lambda: nb_positives(x, k),
    }, exact(expected), (P.positives, (x,)), bytes=4 * n + 4 * expected.size)


def make_sort_f32(n, rng):
    x = rng.standard_normal(n, dtype=F32)
    return Bench("sort_f32", "sort(cmp_lt, x), float32", {
        "numpy": lambda: np.sort(x),
        "numba": lambda: nb_sort(x),
    }, exact(np.sort(x)), (P.sort_ascending, (x,)))


def make_sort_i32(n, rng):
    x = rng.integers(np.iinfo(np.int32).min, np.iinfo(np.int32).max, n, dtype=np.int32)
    return Bench("sort_i32", "sort(cmp_lt, x), int32", {
        "numpy": lambda: np.sort(x),
        "numba": lambda: nb_sort(x),
    }, exact(np.sort(x)), (P.sort_ascending, (x,)))


def make_spmv(n, rng):
    rows = max(n // 16, 1)
    per_row = rng.integers(0, 21, rows)  # about 10 nonzeros per row, some rows empty
    offsets = np.zeros(rows + 1, np.int64)
    np.cumsum(per_row, out=offsets[1:])
    nnz = int(offsets[-1])
    columns = rng.integers(0, rows, nnz, dtype=np.int32)
    values = rng.standard_normal(nnz, dtype=F32)
    offsets = offsets.astype(np.int32)
    x = rng.standard_normal(rows, dtype=F32)
    row_of = np.repeat(np.arange(rows), per_row)
    terms = values.astype(np.float64) * x[columns]
    exact64 = np.bincount(row_of, terms, minlength=rows)
    # a row of m products summed in any order: |error| <= (m + 1) eps sum |a_ij x_j|
    bound = (per_row + 1) * EPS * np.bincount(row_of, np.abs(terms), minlength=rows)
    impls = {
        "numpy": lambda: np_spmv(values, columns, offsets, x),
        "numba": lambda: nb_spmv(values, columns, offsets, x),
    }
    if scipy is not None:
        matrix = scipy.sparse.csr_matrix((values, columns, offsets), shape=(rows, rows))
        impls["scipy"] = lambda: matrix @ x
    b = Bench("spmv", f"CSR, {rows} rows, {nnz / rows:.1f} nnz/row", impls,
              within(exact64, bound), (P.spmv, (values, columns, offsets, x)),
              bytes=8 * nnz + 4 * (rows + 1) + 4 * rows + 4 * rows)
    return b


def make_softmax(n, rng):
    rows, cols = max(n // 4096, 1), 1024
    m = rng.standard_normal((rows, cols), dtype=F32)
    m64 = m.astype(np.float64)
    e = np.exp(m64 - m64.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    # exp (a few ulps), a row sum of `cols` positive terms, one division: relative error
    tol = (cols + 8) * EPS * ref
    return Bench("softmax", f"rows of {rows}x{cols}", {
        "numpy": lambda: np_softmax(m),
        "numba": lambda: nb_softmax(m),
    }, within(ref, tol), (P.softmax, (m,)), bytes=2 * 4 * rows * cols)


def make_mandelbrot(n, rng):
    side = max(int(math.isqrt(max(n // 16, 1))), 1)
    limit = 256
    re, im = np.meshgrid(np.linspace(-2.0, 0.6, side), np.linspace(-1.2, 1.2, side))
    cr, ci = re.ravel().astype(F32), im.ravel().astype(F32)
    return Bench("mandelbrot", f"{side}x{side}, {limit} steps at most", {
        "numpy": lambda: np_mandelbrot(cr, ci, limit),
        "numba": lambda: nb_mandelbrot(cr, ci, limit),
    }, exact(np_mandelbrot(cr, ci, limit)), (P.mandelbrot, (cr, ci, limit)))


BENCHMARKS = {f.__name__[5:]: f for f in (
    make_saxpy, make_saxpy_reused, make_black_scholes, make_sum, make_dot, make_nrm2,
    make_scan, make_gather, make_scatter, make_filter, make_sort_f32, make_sort_i32,
    make_spmv, make_softmax, make_mandelbrot)}
NAMES = [*BENCHMARKS, "compile"]


# =============================================================================================
# Timing.
# =============================================================================================
SLOW_S = 10.0  # an implementation whose single run takes longer is timed once only
SPREAD = 1.5  # a row whose slowest run took longer than this times its fastest is flagged
BUSY = 0.10  # other processes' share of the CPUs above which a row is flagged
REWARM_S = 0.5  # runs shorter than this are preceded by an untimed run of their own


class OtherLoad:
    """The share of the machine's CPU time that other processes used while a block ran
    (Linux: /proc/stat less this process's own CPU time); None where it cannot be read."""

    def __enter__(self):
        self.start = self.sample()
        return self

    def __exit__(self, *exc):
        end = self.sample()
        self.share = None
        if self.start and end:
            (b0, own0, t0), (b1, own1, t1) = self.start, end
            wall = (t1 - t0) * (os.cpu_count() or 1)
            self.share = max(0.0, ((b1 - b0) - (own1 - own0)) / wall) if wall > 0 else None
        return False

    @staticmethod
    def sample():
        try:
            import resource
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
            busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
            own = resource.getrusage(resource.RUSAGE_SELF)
            return busy, own.ru_utime + own.ru_stime, time.perf_counter()
        except (OSError, ValueError, IndexError, ImportError):
            return None


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(impls: dict, repeat: int) -> dict:
    """Median seconds of `repeat` runs of each (already warmed up). The implementations take
    turns run by run, so that a change in the machine's load hits them alike; a short run is
    preceded by an untimed run of the same implementation, so that it finds the caches as it
    leaves them rather than as the previous implementation left them."""
    runs = {k: [] for k in impls}
    for _ in range(repeat):
        for label, fn in impls.items():
            if runs[label] and runs[label][-1] > SLOW_S:
                continue
            if not runs[label] or runs[label][-1] < REWARM_S:
                fn()
            runs[label].append(timed(fn))
    return {k: {"median_s": statistics.median(v), "runs_s": v} for k, v in runs.items()}


def triad_bandwidth(n: int, repeat: int) -> dict:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, n), dtype=F32)
    out = np.empty_like(x)
    a = F32(1.5)
    nb_triad(a, x, y, out)  # compile and warm up
    nb_triad(a, x, y, out)
    with OtherLoad() as load:
        runs = [timed(lambda: nb_triad(a, x, y, out)) for _ in range(max(repeat, 3) * 3)]
    med = statistics.median(runs)
    return {"bytes": 3 * 4 * n, "median_s": med, "gb_s": 3 * 4 * n / med / 1e9, "runs_s": runs,
            "other_load": load.share}


def run_benchmark(name: str, n: int, repeat: int, triad_gbs: float) -> dict:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    bench = BENCHMARKS[name](n, rng)
    record = {"name": name, "what": bench.what, "bytes": bench.bytes, "fail": {},
              "skipped": {}, "notes": list(bench.notes)}
    impls = dict(bench.impls)
    if bench.cupar is not None:
        fn, args = bench.cupar
        reason = CPU.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
        if isinstance(reason, str):
            message = f"cupar falls back to the interpreter: {reason}"
            print(f"  SKIP {name}/cupar: {message}")
            record["skipped"]["cupar"] = message
        else:
            impls["cupar"] = lambda: fn(*args, target_place=CPU)
            serial = serialised_loops(reason, args)
            if serial:
                print(f"  note {name}/cupar: {serial}")
                record["notes"].append(serial)
    checked = {}
    for label, impl in impls.items():  # the check doubles as the warm-up (and compile)
        try:
            t = timed(lambda: checked.__setitem__(label, impl()))
            problem = bench.check(checked.pop(label))
        except Exception as exc:  # report, and go on with the others
            t, problem = None, f"raised {type(exc).__name__}: {exc}"
        if problem:
            print(f"  FAIL {name}/{label}: {problem}")
            record["fail"][label] = problem
        if t is not None:
            record.setdefault("first_call_s", {})[label] = t
    impls = {k: v for k, v in impls.items() if k not in record["fail"]
             or not record["fail"][k].startswith("raised")}
    with OtherLoad() as load:
        record["times"] = measure(impls, repeat)
    record["other_load"] = load.share
    ms = {k: v["median_s"] * 1e3 for k, v in record["times"].items()}
    record["ms"] = ms
    if "cupar" in ms:
        if "numba" in ms:
            record["cupar_over_numba"] = ms["cupar"] / ms["numba"]
        if "numpy" in ms:
            record["numpy_over_cupar"] = ms["numpy"] / ms["cupar"]
        if "scipy" in ms:
            record["scipy_over_cupar"] = ms["scipy"] / ms["cupar"]
    who = "cupar" if "cupar" in ms else "numba"
    if bench.bytes and who in ms:
        record["gb_s_of"] = who
        record["gb_s"] = bench.bytes / (ms[who] / 1e3) / 1e9
        record["triad_fraction"] = record["gb_s"] / triad_gbs
    shown = "  ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
    busy = f"  (other processes: {load.share:.0%} CPU)" if load.share is not None else ""
    print(f"  {name}: {shown}{busy}")
    return record


def serialised_loops(compiled, args) -> str | None:
    """What Numba says about the parallel loops of cupar's generated code: the source is
    compiled once more, uncached, and run once, recording Numba's performance warnings (cupar
    itself silences them). Diagnostics only: any failure here is ignored."""
    import importlib.util
    import warnings
    from numba.core.errors import NumbaPerformanceWarning
    try:
        from cupar.runtime.cpu import flatten_arg
        entry = compiled.kernels.entry.name
        with tempfile.TemporaryDirectory(prefix="cupar-bench-diag-") as tmp:
            path = Path(tmp) / f"diag_{entry}.py"
            path.write_text(compiled.source.replace("cache=True", "cache=False"))
            spec = importlib.util.spec_from_file_location(f"cupar_bench_diag_{entry}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            flat: list = []
            for a in args:
                flatten_arg(a, flat)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NumbaPerformanceWarning)
                getattr(module, entry)(*flat)
    except Exception:
        return None
    messages = sorted({" ".join(str(w.message).split()).split(" File ")[0].split(". ")[0]
                       for w in caught if issubclass(w.category, NumbaPerformanceWarning)})
    if not messages:
        return None
    return "Numba's diagnostics on cupar's generated code: " + "; ".join(messages)


# =============================================================================================
# Start-up: cold compile and warm cache, each in a fresh subprocess.
# =============================================================================================
STARTUP = r"""
import json, sys, time
t0 = time.perf_counter()
import cupar
t_import = time.perf_counter()
sys.path.insert(0, {bench_dir!r})
from programs import saxpy
import numpy as np
x = np.ones({n}, np.float32)
y = np.ones({n}, np.float32)
numba_before_call = "numba" in sys.modules
t1 = time.perf_counter()
z = saxpy(np.float32(2), x, y)
t2 = time.perf_counter()
assert z[0] == 3.0
print(json.dumps({{"import_s": t_import - t0, "first_call_s": t2 - t1, "total_s": t2 - t0,
                  "numba_loaded_before_call": numba_before_call}}))
"""


IMPORT_NUMBA = ("import time; t = time.perf_counter(); import numba; "
                "print(time.perf_counter() - t)")


def startup_times(pairs: int = 3) -> dict:
    """`pairs` times: a process with an empty CUPAR_CACHE_DIR (cold), then one with the same
    directory (warm). 1M elements, so the first call also takes the parallel path."""
    code = STARTUP.format(bench_dir=str(HERE), n=1 << 20)
    cold, warm, numba_import = [], [], []
    for k in range(pairs):
        done = subprocess.run([sys.executable, "-c", IMPORT_NUMBA], capture_output=True,
                              text=True, timeout=600, check=True)
        numba_import.append(float(done.stdout.strip().splitlines()[-1]))
        with tempfile.TemporaryDirectory(prefix="cupar-bench-cache-") as cache:
            env = dict(os.environ, CUPAR_CACHE_DIR=cache)
            for bucket in (cold, warm):
                done = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(HERE.parent),
                                      capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    raise RuntimeError(f"start-up subprocess failed:\n{done.stderr}")
                bucket.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  pair {k + 1}/{pairs}: cold first call {cold[-1]['first_call_s']:.3f} s; "
              f"warm first call {warm[-1]['first_call_s']:.3f} s, import to result "
              f"{warm[-1]['total_s']:.3f} s")

    def med(runs, key):
        return statistics.median(r[key] for r in runs)
    return {"cold": cold, "warm": warm, "import_numba_s": statistics.median(numba_import),
            "import_numba_runs_s": numba_import,
            "cold_first_call_s": med(cold, "first_call_s"),
            "cold_import_s": med(cold, "import_s"),
            "warm_first_call_s": med(warm, "first_call_s"),
            "warm_total_s": med(warm, "total_s"),
            "warm_import_s": med(warm, "import_s")}


# =============================================================================================
# Report.
# =============================================================================================
ORDER = ["saxpy", "saxpy_reused", "black_scholes", "sum", "dot", "nrm2", "scan", "gather",
         "scatter", "filter", "sort_f32", "sort_i32", "spmv", "softmax", "mandelbrot"]


def fmt(value, spec=".2f", missing="—"):
    return missing if value is None else format(value, spec)


def power_of_two(n: int) -> str:
    return f" (2^{n.bit_length() - 1})" if n & (n - 1) == 0 else ""


def fmt_load(load) -> str:
    return "/".join(f"{v:.2f}" for v in load)


def targets(results: dict) -> tuple[list[str], list[str]]:
    """(met, missed): each target of the brief, with the measured numbers."""
    rows, met, missed = results["rows"], [], []

    def verdict(ok, text):
        (met if ok else missed).append(text)

    for r in rows.values():
        ms, name = r["ms"], r["name"]
        if r["skipped"].get("cupar"):
            missed.append(f"{name}: no cupar measurement ({r['skipped']['cupar']})")
            continue
        for label, problem in r["fail"].items():
            missed.append(f"{name}: {label} FAILED its check ({problem})")
        if "cupar" not in ms:
            continue
        if "numba" in ms:
            q = r["cupar_over_numba"]
            verdict(q <= 1.1, f"{name}: cupar/numba {q:.2f} (target <= 1.10)")
        if name.startswith("sort"):
            q = ms["cupar"] / ms["numpy"]
            verdict(q <= 1.1, f"{name}: cupar/np.sort {q:.2f} (target <= 1.10)")
        elif name == "black_scholes":
            q = r["numpy_over_cupar"]
            verdict(q >= 6, f"{name}: {q:.1f}x NumPy (target >= 6x)")
        elif name == "mandelbrot":
            q = r["numpy_over_cupar"]
            verdict(q >= 10, f"{name}: {q:.1f}x NumPy (target >= 10x)")
        else:
            q = r["numpy_over_cupar"]
            verdict(q > 1, f"{name}: {q:.2f}x NumPy (target > 1x)")
        if name in ("sum", "dot", "nrm2"):
            verdict(r["triad_fraction"] >= 0.8,
                    f"{name}: {r['triad_fraction']:.2f} of triad bandwidth (target >= 0.8)")
        if name == "scan":
            verdict(r["triad_fraction"] >= 0.4,
                    f"{name}: {r['triad_fraction']:.2f} of triad bandwidth (target >= 0.4)")
        if name == "spmv":
            if "scipy" in ms:
                q = r["scipy_over_cupar"]
                verdict(q >= 1.5, f"{name}: {q:.2f}x scipy (target >= 1.5x)")
            else:
                missed.append(f"{name}: scipy not installed, the 1.5x-scipy target is unmeasured")
    if "saxpy_reused" in rows or "saxpy" in rows:
        s = rows.get("saxpy")
        if s and "triad_fraction" in s and s.get("gb_s_of") == "cupar":
            missed.append("saxpy into a reused output: not expressible in cupar (map always "
                          f"allocates); cupar's allocating saxpy reaches "
                          f"{s['triad_fraction']:.2f} of triad bandwidth (target >= 0.8 for "
                          "the reused-output form)")
    st = results.get("startup")
    if st:
        verdict(st["cold_first_call_s"] <= 1.5,
                f"cold compile of axpy: {st['cold_first_call_s']:.2f} s (target <= 1.5 s)")
        verdict(st["warm_first_call_s"] <= 0.3,
                f"warm-cache first call: {st['warm_first_call_s']:.3f} s (target <= 0.3 s)")
    return met, missed


def table(results: dict) -> list[str]:
    out = [
        "",
        "| benchmark | numpy ms | numba ms | cupar ms | cupar/numba | numpy/cupar | GB/s "
        "| fraction of triad |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ORDER:
        r = results["rows"].get(name)
        if r is None:
            continue
        ms = r["ms"]

        def cell(label):
            v = ms.get(label)
            text = fmt(v)
            if label in r["fail"]:
                text += " FAIL"
            if label in r["skipped"]:
                text = "skipped"
            return text
        gbs = fmt(r.get("gb_s"), ".1f")
        frac = fmt(r.get("triad_fraction"), ".2f")
        if r.get("gb_s_of") == "numba":
            gbs, frac = gbs + " (numba)", frac + " (numba)"
        out.append(f"| {name} ({r['what']}) | {cell('numpy')} | {cell('numba')} | "
                   f"{cell('cupar')} | {fmt(r.get('cupar_over_numba'))} | "
                   f"{fmt(r.get('numpy_over_cupar'))} | {gbs} | {frac} |")
    out.append("")
    out.append("GB/s and the fraction of triad bandwidth are cupar's (Numba's where marked). "
               "GB/s counts the bytes each kernel must move at least: saxpy 3 arrays; sum and "
               "nrm2 1; dot 2; scan 2; gather and scatter 3 (int32 indices); filter the input "
               "plus the kept elements; SpMV values, column indices, offsets, x once and y; "
               "softmax the matrix in and out. Black-Scholes, sort and Mandelbrot are not "
               "memory-bound and have no GB/s. The NumPy baselines are: `a*x + y`, `np.sum`, "
               "`np.dot`, `np.linalg.norm`, `np.cumsum`, `x[idx]`, `out[idx] = x`, `x[x > 0]`, "
               "`np.sort`, `np.add.reduceat` over the CSR rows, the usual max/exp/sum softmax, "
               "and a vectorised Mandelbrot iterating every pixel `limit` times. The Numba sort "
               "is `np.sort` inside `@njit`.")
    extra = []
    for name in ORDER:
        r = results["rows"].get(name)
        if r and "scipy" in r["ms"]:
            extra.append(f"{name}: scipy `csr_matrix @ x` {r['ms']['scipy']:.2f} ms, "
                         f"scipy/cupar {fmt(r.get('scipy_over_cupar'))}")
        for label, reason in (r or {}).get("skipped", {}).items():
            extra.append(f"{name}: {label} skipped — {reason}")
        for note in (r or {}).get("notes", []):
            extra.append(f"{name}: {note}")
        for label, problem in (r or {}).get("fail", {}).items():
            extra.append(f"{name}: **FAIL** {label}: {problem}")
        for label, t in (r or {}).get("times", {}).items():
            runs = t["runs_s"]
            if len(runs) > 1 and max(runs) > SPREAD * min(runs):
                extra.append(f"{name}: {label}'s runs ranged from {min(runs) * 1e3:.1f} to "
                             f"{max(runs) * 1e3:.1f} ms")
        if r and (r.get("other_load") or 0) > BUSY:
            extra.append(f"{name}: timed while other processes used "
                         f"{r['other_load']:.0%} of the machine's CPU time")
    if extra:
        out += ["", *(f"* {e}" for e in extra)]
    return out


def markdown(results: dict) -> str:
    meta = results["meta"]
    tri = results["triad"]
    out = [
        "# cupar benchmarks",
        "",
        f"Generated by `python benchmarks/run.py` on {meta['date']} "
        f"({meta['machine']}) at commit {meta.get('commit') or 'unknown'}. "
        f"N = {meta['n']:,}{power_of_two(meta['n'])} float32 "
        f"elements; Numba {meta['numba']} with {meta['threads']} threads; NumPy "
        f"{meta['numpy']}; scipy {meta['scipy'] or 'not installed'}; Python {meta['python']}.",
        f"Times are medians of {meta['repeat']} runs after a warm-up, the implementations "
        "taking turns run by run, each short run preceded by an untimed one of its own. "
        "The machine is shared, so expect noise of 10% or more "
        f"(1/5/15-minute load averages {fmt_load(meta['load_before'])} at the start, "
        f"{fmt_load(meta['load_after'])} at the end).",
        "",
        f"Memory bandwidth (Numba parallel triad `a*x+y` into a reused buffer, "
        f"{tri['bytes'] / 1e6:.0f} MB per run): **{tri['gb_s']:.1f} GB/s** "
        f"({tri['median_s'] * 1e3:.2f} ms), the higher of two medians measured at the start "
        f"({tri.get('start_gb_s', tri['gb_s']):.1f} GB/s) and at the end "
        f"({tri['end']['gb_s']:.1f} GB/s) of the run. Other processes used "
        f"{fmt(tri.get('other_load'), '.0%', '?')} and "
        f"{fmt(tri['end'].get('other_load'), '.0%', '?')} of the machine's CPU time during "
        "these two measurements.",
    ]
    if results["rows"]:
        out += table(results)
    st = results.get("startup")
    if st:
        cold = ", ".join(f"{c['first_call_s']:.2f}" for c in st["cold"])
        warm = ", ".join(f"{w['first_call_s']:.3f}" for w in st["warm"])
        total = ", ".join(f"{w['total_s']:.2f}" for w in st["warm"])
        out += [
            "",
            "## Compile and cache",
            "",
            f"axpy (`benchmarks/programs.py: saxpy`) on 2^20 float32 elements, in fresh "
            f"subprocesses, medians of {len(st['cold'])} pairs (individual runs in brackets):",
            "",
            f"* cold (empty `CUPAR_CACHE_DIR`), first call from before the call to after: "
            f"**{st['cold_first_call_s']:.2f} s** [{cold}]",
            f"* warm (second process, same cache directory), first call: "
            f"**{st['warm_first_call_s']:.3f} s** [{warm}]",
            f"* warm, from before `import cupar` to after the first call: "
            f"**{st['warm_total_s']:.2f} s** [{total}] (of which `import cupar` "
            f"{st['warm_import_s']:.2f} s)",
        ]
        if not any(r.get("numba_loaded_before_call") for r in st["cold"] + st["warm"]):
            out.append("* `import cupar` does not load Numba: both first calls include "
                       "importing it; `import numba` alone, in a separate fresh process, "
                       f"takes {st['import_numba_s']:.2f} s")
    met, missed = targets(results)
    out += ["", "## Targets", "",
            f"{len(met)} of {len(met) + len(missed)} checks against the targets pass. Each line "
            "gives the measured number and the target; nothing here says why a row misses.",
            ""]
    if missed:
        out.append("Missed:")
        out.append("")
        out += [f"* {m}" for m in missed]
        out.append("")
    if met:
        out.append("Met:")
        out.append("")
        out += [f"* {m}" for m in met]
    return "\n".join(out) + "\n"


def git_commit() -> str | None:
    """The checkout's commit, marked "+changes" when cupar/ differs from it."""
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True,
                                  text=True, timeout=30, check=True).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD")
        return commit + (" +changes in cupar/" if git("status", "--porcelain", "cupar") else "")
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1 << 24,
                        help="elements of the 1-D benchmarks (default 2^24)")
    parser.add_argument("--repeat", type=int, default=7,
                        help="timed runs per implementation after a warm-up (default 7)")
    parser.add_argument("--json", metavar="FILE", help="also write all measurements here")
    parser.add_argument("--only", metavar="NAME,...",
                        help=f"run only these, comma-separated, from: {', '.join(NAMES)}")
    parser.add_argument("--markdown", metavar="FILE", default=str(HERE / "RESULTS.md"),
                        help="where to write the report (default benchmarks/RESULTS.md)")
    parser.add_argument("--from-json", metavar="FILE",
                        help="measure nothing: write the report from an earlier --json file")
    args = parser.parse_args(argv)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        Path(args.markdown).write_text(markdown(results))
        print(f"wrote {args.markdown} from {args.from_json}")
        return
    names = NAMES
    if args.only:
        names = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in names if s not in NAMES]
        if unknown:
            parser.error(f"unknown benchmark {', '.join(unknown)}; choose from "
                         f"{', '.join(NAMES)}")
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be positive")

    n, repeat = args.size, args.repeat
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "n": n,
            "repeat": repeat, "numba": numba.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__ if scipy else None, "cupar": cupar.__version__,
            "threads": numba.get_num_threads(), "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_before": os.getloadavg(), "commit": git_commit()}
    print(f"cupar benchmarks: N = {n}, repeat = {repeat}, Numba {meta['numba']} with "
          f"{meta['threads']} threads")
    print("memory bandwidth (triad) ...")
    tri = triad_bandwidth(n, repeat)
    print(f"  triad: {tri['gb_s']:.1f} GB/s ({tri['median_s'] * 1e3:.2f} ms)")
    results = {"meta": meta, "triad": tri, "rows": {}}
    benches = [b for b in names if b in BENCHMARKS]
    for k, name in enumerate(benches, 1):
        print(f"[{k}/{len(benches)}] {name} ...", flush=True)
        results["rows"][name] = run_benchmark(name, n, repeat, tri["gb_s"])
    # the bandwidth again, at the end: the fractions use the higher of the two medians
    print("memory bandwidth (triad) again ...")
    tri["end"] = triad_bandwidth(n, repeat)
    print(f"  triad: {tri['end']['gb_s']:.1f} GB/s ({tri['end']['median_s'] * 1e3:.2f} ms)")
    if tri["end"]["gb_s"] > tri["gb_s"]:
        for key in ("median_s", "gb_s"):
            tri["start_" + key], tri[key] = tri[key], tri["end"][key]
        for r in results["rows"].values():
            if "gb_s" in r:
                r["triad_fraction"] = r["gb_s"] / tri["gb_s"]
    if "compile" in names:
        print("start-up: cold compile and warm cache of axpy in fresh subprocesses ...")
        results["startup"] = startup_times()
    meta["load_after"] = os.getloadavg()
    text = markdown(results)
    Path(args.markdown).write_text(text)
    print(f"wrote {args.markdown}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
        print(f"wrote {args.json}")
    met, missed = targets(results)
    print(f"targets: {len(met)} met, {len(missed)} missed (see {args.markdown})")


if __name__ == "__main__":
    main()
