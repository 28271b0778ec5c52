"""`f(..., out=buf)`: results written into the caller's arrays, at here and the compiled place.

The value must be the one the call gives without `out=`, the call must return the caller's
arrays, a result that aliases an argument must not be corrupted, and a wrong `out=` must get
a located error. At cpu, a map's output is written straight into the caller's array.
"""

import numpy as np
import pytest
from hypothesis import given

import cupar
from cupar import *  # noqa: F403
from cupar.dsl.places import to_host
from cupar.errors import CuparTypeError, CuparValueError
from strategies import (COMPILED, arrays, assert_close, examples, matrices,
                        same_length_arrays, scalars)

here = cupar.places.here
PLACES = [pytest.param(here, id="here"), pytest.param(COMPILED, id=COMPILED.name)]


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def several(x):
    return map(lambda v: (v * 2, v + 1), x), sum(x), filter(lambda v: v > 0, x), scan(op_add, x)


@parallel
def row_scale(m):
    return map(lambda row: map(lambda v: v * 2, row), m)


@parallel
def reverse(x):
    n = len(x)
    return gather(x, map(lambda i: n - 1 - i, indices(x)))


def empty_like_result(value):
    return np.empty(np.shape(value), np.asarray(value).dtype)


@pytest.mark.parametrize("place", PLACES)
@given(xy=same_length_arrays(2, same_dtype=True), a=scalars(float))
@examples(30)
def test_map_into_out_equals_fresh_result(place, xy, a):
    x, y = xy
    expected = axpy(a, x, y, target_place=place)
    buf = empty_like_result(expected)
    got = axpy(a, x, y, target_place=place, out=buf)
    assert got is buf
    assert_close(got, to_host(expected))


@pytest.mark.parametrize("place", PLACES)
@given(x=arrays(integral=True))
@examples(20)
def test_tuple_results_take_an_out_per_part(place, x):
    pairs, total, kept, prefix = several(x, target_place=place)
    cols = tuple(empty_like_result(c) for c in pairs.columns)
    kept_out, prefix_out = empty_like_result(kept), empty_like_result(prefix)
    got = several(x, target_place=place, out=(cols, None, kept_out, prefix_out))
    assert got[0].columns[0] is cols[0] and got[2] is kept_out and got[3] is prefix_out
    assert_close(got, to_host((pairs, total, kept, prefix)))


@pytest.mark.parametrize("place", PLACES)
@given(m=matrices())
@examples(15)
def test_rows_into_a_2d_out(place, m):
    buf = np.empty_like(m)
    assert row_scale(m, target_place=place, out=buf) is buf
    assert_close(buf, np.asarray(row_scale(m, target_place=place)))


@pytest.mark.parametrize("place", PLACES)
@given(x=arrays(integral=True))
@examples(15)
def test_out_aliasing_an_argument_gets_the_fresh_result(place, x):
    expected = x[::-1].copy()
    assert reverse(x, target_place=place, out=x) is x
    assert_close(x, expected)


def test_map_at_cpu_writes_straight_into_out():
    x = np.arange(1000, dtype=np.float32)
    buf = np.empty_like(x)
    axpy(np.float32(2), x, x, target_place=cupar.places.cpu, out=buf)
    stages = axpy.stages_for(axpy.argument_types((np.float32(2), x, x)))
    compiled = cupar.places.cpu.compiled_or_reason(stages)
    assert [p.part for p in compiled.writing_into().out_params] == [0]
    np.testing.assert_array_equal(buf, 3 * x)


@parallel
def running(x):
    pairs = zip(x, indices(x))
    best = scan(lambda a, b: b if b[0] > a[0] else a, pairs)  # running max and where
    return scan(op_add, x), exclusive_scan(op_add, 1, x), rscan(maximum, x), best


@pytest.mark.parametrize("place", PLACES)
@given(x=arrays(np.dtype("float64"), integral=True))
@examples(20)
def test_scans_into_out_equal_fresh_results(place, x):
    """(One dtype: what is tested is where results go; test_compiled_prims.py runs the
    scans at every dtype, and each dtype here is three more compiles: plain, writing into
    out, and the serial variant.)"""
    expected = to_host(running(x, target_place=place))
    bufs = (*(empty_like_result(e) for e in expected[:3]),
            tuple(empty_like_result(c) for c in expected[3].columns))
    got = running(x, target_place=place, out=bufs)
    assert got[0] is bufs[0] and got[1] is bufs[1] and got[2] is bufs[2]  # (cupar's zip
    assert got[3].columns[1] is bufs[3][1]                              # is imported)
    assert_close(got, expected)


def test_scans_at_cpu_write_straight_into_out():
    x = np.arange(1000, dtype=np.int64)
    stages = running.stages_for(running.argument_types((x,)))
    compiled = cupar.places.cpu.compiled_or_reason(stages)
    assert [p.part for p in compiled.writing_into().out_params] == [0, 1, 2, 3, 4]


def test_non_contiguous_out_is_filled():
    x = np.arange(10, dtype=np.float64)
    buf = np.zeros(20)[::2]
    axpy(2.0, x, x, target_place=cupar.places.cpu, out=buf)
    np.testing.assert_array_equal(buf, 3 * x)


@pytest.mark.parametrize("out, error, words", [
    (np.empty(9, np.float32), CuparValueError, "out= has shape (9,), but the result has shape"),
    (np.empty(10, np.float64), CuparTypeError, "1-D float64 array, but the result is a 1-D "
                                               "float32"),
    (np.empty((10, 1), np.float32), CuparTypeError, "2-D float32"),
    ([0.0] * 10, CuparTypeError, "out= must be an array, not list"),
    (np.zeros(10, np.float32).view(), None, None),
])
def test_bad_out_is_a_located_error(out, error, words):
    x = np.arange(10, dtype=np.float32)
    if error is None:  # read-only
        out.flags.writeable = False
        error, words = CuparValueError, "read-only"
    with pytest.raises(error) as info:
        axpy(np.float32(2), x, x, out=out)
    assert words in str(info.value) and "test_out.py" in str(info.value)


def test_scalar_part_takes_none():
    x = np.arange(5, dtype=np.int64)
    with pytest.raises(CuparTypeError, match="out= cannot hold a result of type i64"):
        several(x, out=(None, np.empty(1, np.int64), None, None))
    with pytest.raises(CuparTypeError, match="tuple of 4 entries"):
        several(x, out=np.empty(5, np.int64))
