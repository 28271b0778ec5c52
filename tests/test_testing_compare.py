"""cupar.testing.assert_places_agree: it passes where the places agree and catches a wrong
value, a changed dtype and a changed structure, naming the places and the elements."""

import numpy as np
import pytest
from hypothesis import given, settings

import cupar
from cupar import *  # noqa: F403
from cupar.dsl.values import TupleSeq
from cupar.errors import CuparValueError
from cupar.testing import assert_places_agree, available_places, differences, values

cpu, here = cupar.places.cpu, cupar.places.here


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def summary(x):
    return sum(x), zip(x, indices(x)), (len(x), argmax(x))


def planted(change, fn=summary):
    """`fn`, with `change` applied to its result at cpu only."""
    def wrong(*args, target_place):
        result = fn(*args, target_place=target_place)
        return change(result) if target_place is cpu else result
    wrong.__name__ = fn.__name__
    wrong.stages_for, wrong.argument_types = fn.stages_for, fn.argument_types  # (its program)
    return wrong


X = np.array([1.5, -2.0, 0.25, 4.0], dtype=np.float32)


@settings(max_examples=25, deadline=None)
@given(values("f32", "f32[n]", "f32[n]"), values("f64[n]", min_len=1))
def test_agreeing_places_pass(axpy_args, x):
    want = assert_places_agree(axpy, *axpy_args)
    np.testing.assert_allclose(want, axpy_args[0] * axpy_args[1] + axpy_args[2], rtol=1e-6)
    assert assert_places_agree(summary, x)[1].columns[0].dtype == np.float64


def test_a_wrong_value_is_shown_element_by_element():
    bump = planted(lambda r: (r[0], TupleSeq((r[1].columns[0] + 1, r[1].columns[1])), r[2]))
    with pytest.raises(AssertionError) as caught:
        assert_places_agree(bump, X)
    text = str(caught.value)
    assert "summary(f32[N]) gives a different result at cupar.places.cpu than at " \
           "cupar.places.here" in text
    assert "result[1][i][0]: 4 of 4 elements differ (float32" in text
    assert "result[1][2][0]   0.25      1.25" in text
    assert text.count("result[1][") == 5  # the header and the first elements


def test_a_wrong_scalar_and_the_tolerance_it_broke():
    with pytest.raises(AssertionError, match=r"(?s)x 4 ops.*result\[0\] +3.75 +3.751"):
        assert_places_agree(planted(lambda r: (r[0] + np.float32(0.001), *r[1:])), X)
    off_by_one = planted(lambda r: r + np.float32(1), axpy)
    with pytest.raises(AssertionError, match=r"x 1 op x"):  # no reduction: no regrouping
        assert_places_agree(off_by_one, np.float32(2), X, X)


def test_a_tiny_rounding_difference_passes():
    nudge = planted(lambda r: (np.nextafter(r[0], np.float32(np.inf)), *r[1:]))
    assert assert_places_agree(nudge, X)[0] == np.float32(3.75)


def test_a_changed_dtype_fails():
    widened = planted(lambda r: (r[0].astype(np.float64), *r[1:]))
    with pytest.raises(AssertionError, match="result\\[0\\]: at here gives a NumPy float32 "
                       "scalar, at cpu gives a NumPy float64 scalar"):
        assert_places_agree(widened, X)
    to_python = planted(lambda r: (r[0], r[1], (r[2][0], int(r[2][1]))))
    with pytest.raises(AssertionError, match="at cpu gives a Python int"):
        assert_places_agree(to_python, X)


@pytest.mark.parametrize("change, expected", [
    (lambda r: (r[0], r[1], r[2][0]), "result[2]: at here gives a tuple of 2, at cpu gives a"),
    (lambda r: r[:2], "result: at here gives a tuple of 3, at cpu gives a tuple of 2"),
    (lambda r: (r[0], tuple(r[1].columns), r[2]), "result[1]: at here gives a sequence of 4"),
    (lambda r: (r[0], TupleSeq([c[:2] for c in r[1].columns]), r[2]),
     "result[1][i][0]: at here gives an array of float32 with shape (4,), at cpu gives an "
     "array of float32 with shape (2,)"),
])
def test_a_changed_structure_fails(change, expected):
    with pytest.raises(AssertionError) as caught:
        assert_places_agree(planted(change), X)
    assert expected in str(caught.value)


def test_special_floats_must_match():
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    want = np.array([1, nan, inf, -inf], np.float32)
    assert differences(want, want.copy()) == []
    for got in ([1, 1, inf, -inf], [1, nan, -inf, -inf], [nan, nan, inf, -inf]):
        assert "1 of 4 elements differs" in differences(want, np.array(got, np.float32))[0]


def test_integers_and_booleans_must_be_equal():
    assert differences(np.arange(3), np.arange(3)) == []
    assert differences(np.int64(1 << 53), np.int64((1 << 53) + 1))[0].endswith("exactly)")
    assert differences(True, np.True_) != []  # a Python bool is not a NumPy bool
    assert differences(np.ones((2, 3), bool), np.ones((3, 2), bool)) != []


def test_errors_must_agree_and_are_raised():
    with pytest.raises(CuparValueError, match="different lengths"):
        assert_places_agree(axpy, np.float32(2), X, X[:3])

    def returns_instead(*args, target_place):
        return X if target_place is cpu else axpy(*args, target_place=target_place)
    with pytest.raises(AssertionError, match="here raises CuparValueError, but "
                       "cupar.places.cpu returns"):
        assert_places_agree(returns_instead, np.float32(2), X, X[:3])


def test_places_by_name_and_the_available_ones():
    assert available_places()[:2] == [here, cpu]
    assert cupar.places.gpu0 in available_places() or not cupar.places.gpu0.available
    assert_places_agree(axpy, np.float32(2), X, X, places="cpu")
    assert_places_agree(planted(lambda r: None), X, places=[here])  # the reference alone
    with pytest.raises(ValueError, match="no cupar place is called 'tpu'"):
        assert_places_agree(axpy, np.float32(2), X, X, places=["tpu"])
