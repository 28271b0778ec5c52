"""Hypothesis strategies for cupar values, named by their cupar types.

    values("f32[n]")                 # a float32 array
    values("(i64, f32)[n]")          # a sequence of (i64, f32) tuples: a TupleSeq
    values("f64[n][m]")              # n rows of m: a 2-D array
    values("f32", "f32[n]", "f32[n]")  # a tuple: a scalar and two arrays of one length
    values("i32[n]", no_overflow="sum")  # integers whose sum cannot overflow

Types are written as cupar prints them (`cupar.explain`, error messages): scalars `bool`,
`i8`..`i64`, `u8`..`u64`, `f32`, `f64` (NumPy scalars), `int` and `float` (Python numbers,
weakly typed); `t[n]` a sequence of `t`, `(a, b)` a tuple. A length is a name, the same
name giving the same length everywhere in one call, or a number. Lengths are drawn from
0, 1 and up to `max_len`; floats are finite and normal, within +-1e6 unless bounds are
given, so that sums of a few stay finite in float32.

Only this module imports hypothesis (a test extra), and only when it is imported.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..compiler.types import Scalar, Seq, Tuple, parse_type
from ..dsl.values import TupleSeq

MAX_LEN = 50  # the interpreter, places.here, is pure Python: lengths stay small
MAX_NESTED_LEN = 8  # per level, for nested sequences
FLOAT_BOUND = 1e6
OVERFLOW_GUARDS = (None, "sum", "product")


def values(*types, min_len: int = 0, max_len: int | None = None, min_value=None,
           max_value=None, allow_nan: bool = False, allow_infinity: bool = False,
           no_overflow: str | None = None):
    """Values of the cupar `types`, written as cupar prints types: one value for one type,
    a tuple for several (lengths named alike are equal across them).

    * `min_len`, `max_len`: bounds of every named length (default 0 to 50, 0 to 8 for each
      level of a nested sequence); 0 and 1 are drawn often.
    * `min_value`, `max_value`: bounds of every number (integers and floats).
    * `allow_nan`, `allow_infinity`: mix NaN or +-inf among the floats.
    * `no_overflow`: `"sum"` keeps integers small enough that the sum of every element of
      a value cannot overflow its dtype; `"product"` that the product of two cannot.

    >>> values("f32", "f32[n]", "f32[n]").example()        # doctest: +SKIP
    (np.float32(-3.5), array([0.5], dtype=float32), array([2.], dtype=float32))
    """
    if no_overflow not in OVERFLOW_GUARDS:
        raise ValueError(f"no_overflow is one of {OVERFLOW_GUARDS}, not {no_overflow!r}")
    dims: dict = {}
    parsed = [parse_type(t, dims) for t in types]
    if not parsed:
        raise ValueError("values() needs at least one type, e.g. values('f32[n]')")
    deepest = max(_depth(t) for t in parsed)
    longest = max_len if max_len is not None else MAX_LEN if deepest <= 1 else MAX_NESTED_LEN
    if not 0 <= min_len <= longest:
        raise ValueError(f"lengths must satisfy 0 <= min_len <= max_len, not {min_len}, "
                         f"{longest}")
    numbers = _Numbers(min_value, max_value, allow_nan, allow_infinity, no_overflow,
                       longest ** deepest)
    named = {text: d for text, d in dims.items() if not text.isdigit()}
    fixed = {d: int(text) for text, d in dims.items() if text.isdigit()}

    @st.composite
    def draw_values(draw):
        sizes = {**fixed, **{d: draw(lengths(min_len, longest)) for d in named.values()}}
        drawn = tuple(_draw(draw, t, (), sizes, numbers) for t in parsed)
        return drawn[0] if len(drawn) == 1 else drawn

    return draw_values()


def lengths(min_len: int = 0, max_len: int = MAX_LEN):
    """Sequence lengths from `min_len` to `max_len`, the two smallest drawn half the time
    (empty and one-element sequences are where kernels go wrong)."""
    edges = sorted({min_len, min(min_len + 1, max_len)})
    return st.one_of(st.sampled_from(edges), st.integers(min_len, max_len))


def _depth(t) -> int:
    match t:
        case Seq(elem, _):
            return 1 + _depth(elem)
        case Tuple(elems):
            return max((_depth(e) for e in elems), default=0)
    return 0


def _draw(draw, t, shape: tuple, sizes: dict, numbers: _Numbers):
    """A value of type `t` for every index of `shape`: an array of that shape for a
    scalar type, columns (a TupleSeq) for a tuple type inside sequences."""
    match t:
        case Scalar():
            if not shape:
                return numbers.scalar(draw, t)
            return draw(hnp.arrays(t.dtype, shape, elements=numbers.elements(t)))
        case Seq(elem, length):
            return _draw(draw, elem, shape + (sizes[length],), sizes, numbers)
        case Tuple(elems):
            parts = tuple(_draw(draw, e, shape, sizes, numbers) for e in elems)
            return TupleSeq(parts, len(shape)) if shape else parts
    raise ValueError(f"values() cannot make values of type {t!r}")


class _Numbers:
    """The element strategies, one per scalar type, under the caller's options."""

    def __init__(self, lo, hi, nan: bool, infinity: bool, guard, count: int):
        self.lo, self.hi, self.nan, self.infinity = lo, hi, nan, infinity
        self.guard, self.count = guard, max(count, 1)

    def scalar(self, draw, t: Scalar):
        value = draw(self.elements(t))
        if t.weak:
            return int(value) if t.name == "int" else float(value)
        return t.dtype.type(value)

    def elements(self, t: Scalar):
        if t.kind == "b":
            return st.booleans()
        if t.kind in "iu":
            return st.integers(*self.integer_bounds(t.dtype))
        return self.floats(t.dtype)

    def integer_bounds(self, dtype: np.dtype) -> tuple[int, int]:
        info = np.iinfo(dtype)
        top = {None: info.max, "sum": info.max // self.count,
               "product": math.isqrt(info.max)}[self.guard]
        lo, hi = max(info.min, -top), top
        lo = lo if self.lo is None else max(lo, math.ceil(self.lo))
        hi = hi if self.hi is None else min(hi, math.floor(self.hi))
        if lo > hi:
            raise ValueError(f"no {dtype} value lies within the bounds and the overflow guard")
        return lo, hi

    def floats(self, dtype: np.dtype):
        lo = -FLOAT_BOUND if self.lo is None else self.lo
        hi = FLOAT_BOUND if self.hi is None else self.hi
        lo, hi = _representable(lo, dtype, up=True), _representable(hi, dtype, up=False)
        finite = st.floats(lo, hi, width=8 * dtype.itemsize, allow_nan=False,
                           allow_infinity=False, allow_subnormal=False)
        special = ([math.nan] if self.nan else []) + ([math.inf, -math.inf]
                                                      if self.infinity else [])
        return st.one_of(finite, st.sampled_from(special)) if special else finite


def _representable(bound: float, dtype: np.dtype, up: bool) -> float:
    """`bound` moved inwards to the nearest value of `dtype` (hypothesis wants exact bounds
    for narrow floats)."""
    near = dtype.type(bound)
    if (up and near < bound) or (not up and near > bound):
        near = np.nextafter(near, dtype.type(np.inf if up else -np.inf))
    return float(near)
