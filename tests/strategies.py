"""Hypothesis strategies and a dtype-aware comparison for the property tests.

Arrays are 1-D, of length 0, 1 or a random length up to MAX_LEN (the interpreter is pure
Python, so lengths stay small). Data for sums, scans and reductions is integer-valued, so the
order in which a place groups the operations cannot change the result; other float data is
finite and in a modest range.

`assert_close` compares a cupar result with a NumPy / Python reference: the type must be the
expected one (NumPy array of the same dtype and shape, NumPy scalar of the same dtype, or the
same Python type for weak results), and floats must agree within a tolerance derived from the
dtype's machine epsilon.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cupar
from cupar.dsl.places import to_host
from cupar.dsl.values import TupleSeq

# The compiled place the differential tests check against the interpreter: cpu by default;
# `make test` also runs them with CUPAR_COMPILED_PLACE=gpu0 under Numba's CUDA simulator.
COMPILED = getattr(cupar.places, os.environ.get("CUPAR_COMPILED_PLACE", "cpu"))
ON_GPU = COMPILED is cupar.places.gpu0

MAX_LEN = 50
INT_DTYPES = (np.dtype("int32"), np.dtype("int64"))
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))
NUMERIC_DTYPES = INT_DTYPES + FLOAT_DTYPES
BOOL_DTYPE = np.dtype("bool")
ALL_DTYPES = NUMERIC_DTYPES + (BOOL_DTYPE,)
WEAK_KINDS = (int, float)  # Python numbers: weakly typed (NEP 50)


def examples(n: int) -> settings:
    """Hypothesis settings for `n` examples, scaled by $CUPAR_EXAMPLES_SCALE (default 1) for
    longer bug hunts; no deadline (the interpreter's first call per type compiles)."""
    scale = float(os.environ.get("CUPAR_EXAMPLES_SCALE", "1"))
    return settings(max_examples=max(1, round(n * scale)), deadline=None)


def lengths(max_len: int = MAX_LEN):
    """0, 1, or a random length up to `max_len`."""
    return st.one_of(st.just(0), st.just(1), st.integers(0, max_len))


def dtypes(choices=NUMERIC_DTYPES):
    return st.sampled_from(tuple(np.dtype(d) for d in choices))


def elements(dtype, *, lo=-100, hi=100, integral=False, nonzero=False):
    """Values of `dtype` in [lo, hi]: integer-valued when `integral` (also for floats),
    finite and normal otherwise. Python values; hnp.arrays / `scalars` convert them."""
    dtype = np.dtype(dtype)
    if dtype == BOOL_DTYPE:
        return st.booleans()
    if dtype.kind in "iu":
        values = st.integers(lo, hi)
    elif integral:
        values = st.integers(lo, hi).map(float)
    else:
        values = st.floats(lo, hi, width=8 * dtype.itemsize, allow_nan=False,
                           allow_infinity=False, allow_subnormal=False)
    return values.filter(lambda v: v != 0) if nonzero else values


def _draw_dtype(draw, dtype):
    if dtype is None:
        return draw(dtypes())
    if isinstance(dtype, st.SearchStrategy):
        return np.dtype(draw(dtype))
    return np.dtype(dtype)


def _draw_length(draw, length) -> int:
    if length is None:
        return draw(lengths())
    return draw(length) if isinstance(length, st.SearchStrategy) else int(length)


@st.composite
def arrays(draw, dtype=None, length=None, **element_options):
    """A 1-D array; `dtype` a dtype or a strategy of dtypes (default: the numeric ones),
    `length` a number or a strategy (default: `lengths()`); see `elements` for the rest."""
    dtype = _draw_dtype(draw, dtype)
    n = _draw_length(draw, length)
    return draw(hnp.arrays(dtype, n, elements=elements(dtype, **element_options)))


@st.composite
def same_length_arrays(draw, count: int, dtype=None, length=None, same_dtype=True,
                       **element_options):
    """`count` arrays of one length; one dtype for all when `same_dtype`, else one each."""
    n = _draw_length(draw, length)
    first = _draw_dtype(draw, dtype)
    result = []
    for k in range(count):
        d = first if same_dtype or k == 0 else _draw_dtype(draw, dtype)
        result.append(draw(arrays(d, n, **element_options)))
    return tuple(result)


@st.composite
def matrices(draw, dtype=None, max_rows: int = 8, max_cols: int = 8, **element_options):
    """A 2-D array (a sequence of rows), either dimension possibly 0."""
    dtype = _draw_dtype(draw, dtype)
    shape = (draw(lengths(max_rows)), draw(lengths(max_cols)))
    return draw(hnp.arrays(dtype, shape, elements=elements(dtype, **element_options)))


def scalars(kind, **element_options):
    """A scalar of `kind`: Python `int` / `float` (weak), or a NumPy scalar of a dtype."""
    if kind is int:
        return elements(np.int64, **element_options)
    if kind is float:
        return elements(np.float64, **element_options)
    dtype = np.dtype(kind)
    return elements(dtype, **element_options).map(dtype.type)


def permutations(n: int):
    """A permutation of range(n) as an int64 array."""
    return st.permutations(list(range(n))).map(lambda p: np.array(p, dtype=np.int64))


# -- comparison ---------------------------------------------------------------------------

def _describe(value) -> str:
    if isinstance(value, (np.ndarray, np.generic)):
        return f"{type(value).__name__} of dtype {value.dtype}"
    return type(value).__name__


def _check_type(actual, expected, dtype) -> None:
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), \
            f"expected an array of dtype {expected.dtype}, got {_describe(actual)}: {actual!r}"
        assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    elif isinstance(expected, np.generic):
        assert isinstance(actual, np.generic) and not isinstance(actual, np.ndarray), \
            f"expected a NumPy {expected.dtype} scalar, got {_describe(actual)}: {actual!r}"
    else:
        assert type(actual) is type(expected), \
            f"expected a Python {type(expected).__name__}, got {_describe(actual)}: {actual!r}"
    if isinstance(expected, (np.ndarray, np.generic)):
        want = np.dtype(dtype) if dtype is not None else expected.dtype
        assert actual.dtype == want, f"dtype {actual.dtype} != expected {want}"
        assert expected.dtype == want, f"reference dtype {expected.dtype} != expected {want}"


def assert_close(actual, expected, *, dtype=None, factor: float = 4, terms: int = 1,
                 scale=None) -> None:
    """Assert `actual` is `expected`: same type and dtype, equal for bools and integers, and
    for floats |actual - expected| <= factor * eps * max(terms, 1) * (|expected| + scale),
    eps the machine epsilon of the dtype. `terms` is the number of rounded operations behind
    each value (e.g. the length of a sum), `scale` a magnitude for values computed by
    cancellation (e.g. the sum of |x|). NaNs must be at the same places, infinities equal.
    Tuples and TupleSeqs are compared part by part; `dtype`, when given, is the dtype every
    NumPy part must have."""
    actual = to_host(actual)  # (gpu0 results stay on the device until asked)
    if isinstance(expected, TupleSeq):
        assert isinstance(actual, TupleSeq), f"expected a TupleSeq, got {_describe(actual)}"
        assert actual.depth == expected.depth
        assert len(actual.columns) == len(expected.columns)
        for a, e in zip(actual.columns, expected.columns):
            assert_close(a, e, dtype=dtype, factor=factor, terms=terms, scale=scale)
        return
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple), f"expected a tuple, got {_describe(actual)}"
        assert len(actual) == len(expected), f"{len(actual)} parts != {len(expected)}"
        for a, e in zip(actual, expected):
            assert_close(a, e, dtype=dtype, factor=factor, terms=terms, scale=scale)
        return
    _check_type(actual, expected, dtype)
    a, e = np.asarray(actual), np.asarray(expected)
    if e.dtype.kind != "f":
        assert np.array_equal(a, e), f"{actual!r} != expected {expected!r}"
        return
    nan = np.isnan(e)
    assert np.array_equal(np.isnan(a), nan), f"NaNs differ: {actual!r} vs {expected!r}"
    inf = np.isinf(e)
    assert np.array_equal(a[inf], e[inf]), f"infinities differ: {actual!r} vs {expected!r}"
    finite = ~(nan | inf)
    info = np.finfo(e.dtype)
    magnitude = np.abs(e[finite]).astype(np.float64) + (0.0 if scale is None else scale)
    tol = factor * float(info.eps) * max(terms, 1) * magnitude + float(info.tiny)
    err = np.abs(a[finite].astype(np.float64) - e[finite].astype(np.float64))
    bad = err > tol
    assert not bad.any(), (f"{actual!r} != expected {expected!r} (dtype {e.dtype}): "
                           f"worst error {err.max()} > tolerance {tol[np.argmax(err - tol)]}")
