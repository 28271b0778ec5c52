"""cupar.testing.values: it makes values of the types it is given, with the lengths, bounds
and special floats it promises; and the type strings it reads are cupar's printed types."""

import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import find, given, settings

from cupar.compiler.types import format_type, parse_type
from cupar.dsl.values import TupleSeq, type_of_value
from cupar.testing import lengths, values
from cupar.testing.strategies import FLOAT_BOUND, MAX_LEN

FEW = settings(max_examples=40, deadline=None)
TYPES = ["f32", "f64", "i32", "i64", "u8", "bool", "int", "float", "f32[n]", "i64[n]",
         "bool[n]", "f64[n][m]", "(i64, f32)", "(f32,)", "(i64, f32)[n]", "(f32[n], i64)[m]",
         "(i32, (f32, bool))[n]", "(f32, i64)[n][m]", "f32[3]", "u16[n][2]"]


def shape_of(text: str) -> str:
    """A printed type with its lengths' names blanked (drawn values have fresh lengths)."""
    return re.sub(r"\[\w+\]", "[_]", text)


@pytest.mark.parametrize("text", TYPES)
def test_types_read_back_as_they_print(text):
    printed = format_type(parse_type(text))
    assert shape_of(printed) == shape_of(text)
    assert format_type(parse_type(printed)) == printed


@pytest.mark.parametrize("text, column", [("f32[n", 6), ("q32", 1), ("(f32 f32)", 6),
                                          ("f32[]", 5), ("(f32, f32) -> f32", 12)])
def test_unreadable_types_say_where(text, column):
    with pytest.raises(ValueError, match=f"at column {column}"):
        parse_type(text)


@pytest.mark.parametrize("text", TYPES)
def test_values_have_the_type_they_are_drawn_for(text):
    @FEW
    @given(values(text))
    def check(value):
        assert shape_of(format_type(type_of_value(value, "value"))) == shape_of(text)
    check()


def test_weak_and_strong_scalars():
    @FEW
    @given(values("int", "float", "f32", "i64", "bool"))
    def check(value):
        assert [type(v) for v in value] == [int, float, np.float32, np.int64, np.bool_]
    check()


def test_one_name_one_length():
    @FEW
    @given(values("f32[n]", "(i64, f32)[n]", "f64[m][n]", "i32[4]"))
    def check(value):
        x, pairs, rows, fixed = value
        assert isinstance(pairs, TupleSeq) and len(pairs) == len(x) == rows.shape[1]
        assert len(fixed) == 4
    check()


@pytest.mark.parametrize("length", [0, 1, MAX_LEN])
def test_edge_lengths_are_drawn(length):
    assert len(find(values("f32[n]"), lambda v: len(v) == length)) == length


def test_lengths_keep_their_bounds():
    @FEW
    @given(values("f32[n]", "f32[n][m]", min_len=2, max_len=5), lengths(3, 4))
    def check(value, n):
        x, m = value
        assert 2 <= len(x) <= 5 and 2 <= m.shape[1] <= 5 and 3 <= n <= 4
    check()
    assert find(values("f32[n]", min_len=2, max_len=5), lambda v: len(v) == 2).size == 2


def test_floats_are_finite_and_bounded_by_default():
    @FEW
    @given(values("f32[n]", "f64[n]", "f32"))
    def check(value):
        for part in value:
            assert np.all(np.isfinite(part)) and np.all(np.abs(part) <= FLOAT_BOUND)
    check()


def test_float_bounds_and_specials():
    @FEW
    @given(values("f32[n]", min_value=0.1, max_value=0.7))
    def check(x):
        assert np.all((x >= np.float32(0.1)) & (x <= np.float32(0.7)))
    check()
    assert np.isnan(find(values("f64[n]", allow_nan=True), lambda v: np.isnan(v).any())).any()
    found = find(values("f32[n]", allow_infinity=True), lambda v: np.isinf(v).any())
    assert not np.isnan(found).any()


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint16, np.int64])
def test_integers_that_cannot_overflow(dtype):
    info, name = np.iinfo(dtype), format_type(type_of_value(dtype(0), "x"))

    @FEW
    @given(values(f"{name}[n]", no_overflow="sum"), values(f"{name}[n]", no_overflow="product"))
    def check(summed, multiplied):
        assert info.min <= sum(int(v) for v in summed) <= info.max
        big = max((abs(int(v)) for v in multiplied), default=0)
        assert big * big <= info.max
    check()
    # without the guard the dtype's extremes are drawn
    assert find(values(f"{name}[n]"), lambda v: (v == info.max).any()).max() == info.max


def test_integer_bounds():
    @FEW
    @given(values("i64[n]", min_value=-3, max_value=3))
    def check(x):
        assert np.all(np.abs(x) <= 3)
    check()
    with pytest.raises(ValueError):
        find(values("u8[n]", min_value=300), lambda v: True)
    with pytest.raises(ValueError):
        values("i32[n]", no_overflow="always")


def test_bounds_round_inwards_for_float32():
    # 0.1 is no float32: the bound becomes the nearest float32 above it
    low = find(values("f32", min_value=0.1, max_value=1.0), lambda v: v < 0.2)
    assert 0.1 <= low < 0.2


def test_importing_cupar_imports_no_hypothesis():
    code = ("import sys, cupar, cupar.testing, cupar.testing.plugin; "
            "sys.exit('hypothesis' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
