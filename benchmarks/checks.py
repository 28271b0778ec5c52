"""Checks of a benchmark's result against NumPy: integers exactly, floats within a tolerance
derived from the dtype's epsilon. A check returns None, or a one-line description of the
problem. Results reach the checks as host values (NumPy arrays, tuples of them, scalars).
"""

import math

import numpy as np

F32 = np.float32
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



def mostly_exact(expected, max_fraction):
    """Exact but for at most `max_fraction` of the elements. For GPU Mandelbrot: CUDA contracts
    x*y + z into one fused multiply-add (one rounding instead of two), and the chaotic
    iteration turns that last-bit difference into a different escape count on a few pixels
    at the set's boundary. Anything beyond a sliver of pixels is still a failure."""
    strict = exact(expected)

    def check(got):
        problem = strict(got)
        if problem is None or "elements differ" not in problem:
            return problem
        differ = int(np.count_nonzero(as_result(got) != expected))
        return problem if differ > max_fraction * expected.size else None
    return check
