"""reduce_by_index (histograms, scatter-adds) at the compiled place (cpu, or gpu0 under
CUPAR_COMPILED_PLACE) against places.here, the meaning.

Values are integer-valued, so the order in which a place combines the values of one index
cannot change an answer, except where noted (float sums of arbitrary data, compared within a
tolerance of the number of values). Indices repeat, and half of them are negative.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupar
from cupar import *  # noqa: F403
from cupar.compiler.kernel_ir import Alloc, Histogram, kernel_count
from strategies import (COMPILED, NUMERIC_DTYPES, ON_GPU, arrays, assert_close, elements,
                        examples, lengths, matrices)

here = cupar.places.here


def agree(fn, *args, terms: int = 1, compiled: bool = True):
    """`compiled`: whether the place must compile `fn` (gpu0 sends operators without atomic
    instructions to cpu, with a warning: tested apart)."""
    if compiled:
        reason = COMPILED.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
        assert not isinstance(reason, str), reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cupar.errors.NotCompiledWarning)
        got = fn(*args, target_place=COMPILED)
    assert_close(got, fn(*args, target_place=here), terms=terms)


@parallel
def recognised(dest, idx, values):
    """The operators with atomic instructions and neutral elements, as names and lambdas;
    the values a fused map."""
    twice = map(lambda v: v * 2, values)
    return (reduce_by_index(op_add, dest, idx, twice),
            reduce_by_index(maximum, dest, idx, values),
            reduce_by_index(minimum, dest, idx, values),
            reduce_by_index(lambda a, b: max(b, a), dest, idx, twice),
            reduce_by_index(lambda a, b: min(a, b), dest, idx, values))


@parallel
def counts(x, idx):
    """A histogram: a zero-filled destination made by a map, ones made by replicate."""
    return reduce_by_index(op_add, map(lambda _: 0, x), idx, replicate(1, len(idx)))


@parallel
def other_operator(dest, idx, values):
    """An operator without an atomic instruction or a neutral element the lowering knows."""
    return reduce_by_index(lambda a, b: a + b + 1, dest, idx, values)


@st.composite
def histograms(draw, dtype, max_bins: int = 12):
    """(dest, idx, values): idx in [-bins, bins), so indices repeat and count from the end."""
    lo, hi = (0 if dtype.kind == "u" else -20), (3 if dtype.itemsize == 1 else 20)
    dest = draw(arrays(dtype, st.integers(1, max_bins), integral=True, lo=lo, hi=hi))
    n = draw(lengths())
    idx = np.array(draw(st.lists(st.integers(-len(dest), len(dest) - 1), min_size=n,
                                 max_size=n)), np.int64)
    values = draw(arrays(dtype, n, integral=True, lo=lo, hi=hi))
    return dest, idx, values


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(10)
def test_recognised_operators(dtype, data):
    agree(recognised, *data.draw(histograms(dtype)))


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "float64"])
@given(data=st.data())
@examples(6)
def test_other_operators(dtype, data):
    dest, idx, values = data.draw(histograms(np.dtype(dtype)))
    agree(other_operator, dest, idx, values, compiled=not ON_GPU)


@parallel
def extremes(dest, idx, values):
    return reduce_by_index(maximum, dest, idx, values), reduce_by_index(minimum, dest, idx, values)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
@examples(8)
def test_nan_wins_in_maximum_and_minimum(dtype, data):
    """As in NumPy, whichever order the values land in (CUDA's atomic max ignores a NaN)."""
    dest, idx, values = data.draw(histograms(np.dtype(dtype)))
    for a in (dest, values):
        a[np.array(data.draw(st.lists(st.booleans(), min_size=len(a), max_size=len(a))),
                   bool)] = np.nan
    agree(extremes, dest, idx, values)


@given(data=st.data())
@examples(10)
def test_counts_with_index_sequences_of_every_length(data):
    x = data.draw(arrays("float32", st.integers(1, 10)))
    idx = np.array(data.draw(st.lists(st.integers(-len(x), len(x) - 1), max_size=40)),
                   np.int32)
    agree(counts, x, idx)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
@examples(10)
def test_float_sums_agree_within_rounding(dtype, data):
    """Sums of arbitrary floats reassociate: within a tolerance of the number of values."""
    dest, idx, _ = data.draw(histograms(np.dtype(dtype)))
    values = data.draw(arrays(dtype, len(idx), lo=-1, hi=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cupar.errors.NotCompiledWarning)
        got = recognised(dest, idx, values, target_place=COMPILED)[0]
    want = recognised(dest, idx, values, target_place=here)[0]
    assert_close(got, want, terms=len(idx) + 1, scale=float(np.abs(values).sum()) * 2 + 20)


# -- rows: the gradient of an embedding lookup -----------------------------------------------
@parallel
def embedding_grad(table, idx, grads):
    zeros = map(lambda r: map(lambda _: 0.0, r), table)
    return reduce_by_index(op_add, zeros, idx, map(lambda g: map(lambda v: v * 2.0, g), grads))


@parallel
def row_extremes(dest, idx, rows):
    return reduce_by_index(maximum, dest, idx, rows), reduce_by_index(op_add, dest, idx, rows)


@st.composite
def row_histograms(draw, dtype):
    dest, idx, _ = draw(histograms(dtype, max_bins=6))
    width = draw(st.integers(0, 5))
    dest = np.repeat(dest[:, None], width, axis=1) if width else np.zeros((len(dest), 0), dtype)
    rows = np.array(draw(st.lists(elements(dtype, lo=-9, hi=9, integral=True),
                                  min_size=len(idx) * width, max_size=len(idx) * width)),
                    dtype).reshape(len(idx), width)
    return dest, idx, rows


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(8)
def test_rows(dtype, data):
    dest, idx, rows = data.draw(row_histograms(np.dtype(dtype)))
    agree(row_extremes, dest, idx, rows)
    agree(embedding_grad, dest.astype(np.float64), idx, rows.astype(np.float64))


def test_rows_of_another_length_are_an_error():
    for place in (COMPILED, here):
        with pytest.raises(cupar.errors.CuparValueError, match="different lengths"):
            embedding_grad(np.zeros((3, 2)), np.array([1]), np.ones((1, 3)), target_place=place)


@parallel
def counts_per_row(m):
    """A histogram inside a map: sequential, one per row (a thread's own at gpu0)."""
    return map(lambda r: reduce_by_index(op_add, replicate(0, 4), r, replicate(1, len(r))), m)


@given(data=st.data())
@examples(10)
def test_a_histogram_per_row(data):
    m = data.draw(matrices("int64", lo=-4, hi=3, max_rows=5).filter(len))
    agree(counts_per_row, m)  # (with no rows the interpreter cannot know their length)


# -- every cpu scheme: sequential, private copies, atomics, each with every operator --------
@pytest.mark.skipif(ON_GPU, reason="the simulator is too slow for 20000 values")
@pytest.mark.parametrize("bins", [7, 3000, 20000])
@pytest.mark.parametrize("dtype", ["int64", "float32", "uint8"])
def test_large_inputs_take_every_scheme(bins, dtype):
    """Past the serial variant's size (65536 values): few bins take private copies, many take
    atomics where the operator and type have them, a sequential loop where not. (NumPy's
    ufunc.at is the reference here: the interpreter is slow at this size.)"""
    rng = np.random.default_rng(bins)
    n = 70000
    dest = rng.integers(0, 9, bins).astype(dtype)
    idx = rng.integers(-bins, bins, n)
    values = rng.integers(0, 5, n).astype(dtype)
    want = [dest.copy() for _ in range(5)]
    for out, ufunc, v in zip(want, [np.add, np.maximum, np.minimum, np.maximum, np.minimum],
                             [values * 2, values, values, values * 2, values]):
        ufunc.at(out, idx, v.astype(dtype))
    assert_close(recognised(dest, idx, values), tuple(want))
    plus_one = dest.copy()  # a + b + 1
    np.add.at(plus_one, idx, values + np.ones_like(values))
    assert_close(other_operator(dest, idx, values), plus_one)
    table, grads = rng.integers(-3, 3, (bins, 3)), rng.integers(-3, 3, (n, 3))
    want = np.zeros((bins, 3))
    np.add.at(want, idx, grads * 2.0)
    assert_close(embedding_grad(table.astype(np.float64), idx, grads.astype(np.float64)), want)


@pytest.mark.parametrize("n", [3, 70000])
def test_an_index_out_of_range_is_located(n):
    """Flagged inside the parallel loop, then reported as the interpreter reports it."""
    if ON_GPU and n > 100:
        pytest.skip("the simulator is too slow for 20000 values")
    idx = np.zeros(n, np.int64)
    idx[n // 2] = -6
    with pytest.raises(cupar.errors.CuparIndexError, match="reduce_by_index index -6 is out "
                       "of range for a sequence of length 5") as info:
        counts(np.ones(5, np.float32), idx, target_place=COMPILED)
    assert info.value.loc is not None and info.value.loc.file == __file__


# -- structure and places ----------------------------------------------------------------------
@parallel
def scatter_add(x, idx, values):
    return reduce_by_index(op_add, map(lambda _: 0.0, x), idx, map(lambda v: v * v, values))


def test_a_map_of_values_fuses_into_the_histogram():
    """Two kernels: the zero-filled destination, then the histogram computing v * v as it
    goes; the only array allocated is the result."""
    x = np.ones(4)
    compiled = cupar.places.cpu.compiled_or_reason(
        scatter_add.stages_for(scatter_add.argument_types((x, np.zeros(3, np.int64), x[:3]))))
    body = compiled.kernels.entry.body
    assert kernel_count(body) == 2
    assert len([s for s in body if isinstance(s, Alloc)]) == 1
    (histogram,) = [s for s in body if isinstance(s, Histogram)]
    assert histogram.op == "add" and histogram.identity == "np.float64(0)"


@pytest.mark.skipif(not ON_GPU, reason="gpu0 only")
def test_gpu_sends_operators_without_atomics_to_cpu_saying_so():
    dest, idx = np.arange(3, dtype=np.int64), np.array([0, 2, 2])
    with pytest.warns(cupar.errors.NotCompiledWarning, match="no atomic instruction"):
        got = other_operator(dest, idx, dest, target_place=COMPILED)
    assert_close(got, other_operator(dest, idx, dest, target_place=here))
