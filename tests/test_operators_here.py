"""Every operator, comparison, math function, cast and bound of cupar.dsl.operators, on scalars
and elementwise through map, at places.here, against NumPy ufuncs and Python's own operators.
Also the Python semantics the DSL promises: true division, flooring // and %, short-circuit
and/or, chained comparisons, conditional expressions and if/elif/else, NEP 50 weak literals."""

from __future__ import annotations

import builtins
import math
import operator
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupar
from cupar import (cast_to, cast_to_el, max_bound, max_bound_el, min_bound, min_bound_el,
                   parallel, select, where)
from cupar.dsl.operators import OPERATOR_NAMES
from strategies import (BOOL_DTYPE, NUMERIC_DTYPES, arrays, assert_close, dtypes, examples,
                        lengths, scalars)

SETTINGS = examples(30)
I32, I64, F32, F64 = (np.dtype(d) for d in ("int32", "int64", "float32", "float64"))


def here(fn, *args):
    return fn(*args, target_place=cupar.places.here)


def is_weak(x) -> bool:
    return type(x) in (int, float)


def weakify(value, *args):
    """NumPy's result on `args` as cupar gives it: a Python number when every argument is a
    Python number (NEP 50 weak scalars: computed in 64 bits, handed back weak); bools stay
    NumPy bools; 0-d arrays become scalars."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if builtins.all(is_weak(a) for a in args) and not isinstance(value, np.bool_):
        return value.item()
    return value


# -- the operator table: NumPy reference and operand domain of every operator ---------------

@dataclass(frozen=True)
class Domain:
    """Operand kinds (Python int/float are weak) and value ranges of each operand position."""

    kinds: tuple
    operands: tuple = field(default=({},))

    def options(self, k: int) -> dict:
        return self.operands[builtins.min(k, len(self.operands) - 1)]

    @property
    def dtypes(self) -> tuple:
        return tuple(k for k in self.kinds if not isinstance(k, type))


NUM = (int, float, I32, I64, F32, F64)
INTS = (int, I32, I64)
ARITH = Domain(NUM)
DIVIDE = Domain(NUM, ({}, {"nonzero": True}))
POWER = Domain(NUM, ({"lo": -4, "hi": 4}, {"lo": 0, "hi": 3}))
SHIFT = Domain(INTS, ({}, {"lo": 0, "hi": 8}))
BITWISE = Domain(INTS + (BOOL_DTYPE,))
ALL = Domain(NUM + (BOOL_DTYPE,))
POSITIVE = Domain(NUM, ({"lo": 1, "hi": 100},))
EXP = Domain(NUM, ({"lo": -20, "hi": 20},))
TRIG = Domain(NUM, ({"lo": -10, "hi": 10},))
LOGISTIC = Domain(NUM, ({"lo": -120, "hi": 120},))  # e^120 overflows float32: must not matter


def np_sigmoid(x):
    """The logistic function as the prelude defines it: exp of -|x| only."""
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        r = 1 / (1 + e)
        out = np.where(np.asarray(x) >= 0, r, e * r)
    return out[()] if out.ndim == 0 else out

BINARY = {
    "op_add": (np.add, ARITH), "op_sub": (np.subtract, ARITH),
    "op_mul": (np.multiply, ARITH), "op_div": (np.true_divide, DIVIDE),
    "op_floordiv": (np.floor_divide, DIVIDE), "op_mod": (np.remainder, DIVIDE),
    "op_pow": (np.power, POWER), "pow": (np.power, POWER),
    "op_lshift": (np.left_shift, SHIFT), "op_rshift": (np.right_shift, SHIFT),
    "op_or": (np.bitwise_or, BITWISE), "op_xor": (np.bitwise_xor, BITWISE),
    "op_and": (np.bitwise_and, BITWISE), "maximum": (np.maximum, ARITH),
    "minimum": (np.minimum, ARITH),
    "cmp_eq": (np.equal, ALL), "cmp_ne": (np.not_equal, ALL), "cmp_lt": (np.less, ALL),
    "cmp_le": (np.less_equal, ALL), "cmp_gt": (np.greater, ALL),
    "cmp_ge": (np.greater_equal, ALL),
}
UNARY = {
    "op_neg": (np.negative, ARITH), "op_pos": (np.positive, ARITH),
    "stop_gradient": (np.positive, ARITH),
    "op_invert": (np.invert, BITWISE), "op_not": (np.logical_not, ALL),
    "abs": (np.abs, ARITH), "sqrt": (np.sqrt, POSITIVE), "log": (np.log, POSITIVE),
    "exp": (np.exp, EXP), "tanh": (np.tanh, TRIG), "sin": (np.sin, TRIG),
    "cos": (np.cos, TRIG), "floor": (np.floor, ARITH), "ceil": (np.ceil, ARITH),
    "sigmoid": (np_sigmoid, LOGISTIC),
}
# tested below, one by one
SPECIAL = {"select", "where", "int32", "int64", "float32", "float64", "cast_to", "cast_to_el",
           "max_bound", "min_bound", "max_bound_el", "min_bound_el"}


def test_every_operator_has_a_test():
    assert set(OPERATOR_NAMES) == set(BINARY) | set(UNARY) | SPECIAL


def scalar_binary(op):
    @parallel
    def apply(a, b):
        return op(a, b)
    return apply


def map_binary(op):
    @parallel
    def apply(xs, ys):
        return map(lambda a, b: op(a, b), xs, ys)
    return apply


def map_binary_weak(op):
    @parallel
    def apply(xs, b):
        return map(lambda a: op(a, b), xs)
    return apply


def scalar_unary(op):
    @parallel
    def apply(a):
        return op(a)
    return apply


def map_unary(op):
    @parallel
    def apply(xs):
        return map(lambda a: op(a), xs)
    return apply


SCALAR2 = {name: scalar_binary(getattr(cupar, name)) for name in BINARY}
MAP2 = {name: map_binary(getattr(cupar, name)) for name in BINARY}
MAP2_WEAK = {name: map_binary_weak(getattr(cupar, name)) for name in BINARY}
SCALAR1 = {name: scalar_unary(getattr(cupar, name)) for name in UNARY}
MAP1 = {name: map_unary(getattr(cupar, name)) for name in UNARY}


def operand(domain: Domain, k: int, kind):
    return scalars(kind, **domain.options(k))


def reference(ufunc, *args):
    with np.errstate(all="ignore"):
        return ufunc(*args)


@SETTINGS
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_on_scalars(name, data):
    ufunc, domain = BINARY[name]
    ka, kb = data.draw(st.sampled_from(domain.kinds)), data.draw(st.sampled_from(domain.kinds))
    a, b = data.draw(operand(domain, 0, ka)), data.draw(operand(domain, 1, kb))
    assert_close(here(SCALAR2[name], a, b), weakify(reference(ufunc, a, b), a, b))


@SETTINGS
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_elementwise(name, data):
    ufunc, domain = BINARY[name]
    n = data.draw(lengths(20))
    da, db = (data.draw(st.sampled_from(domain.dtypes)) for _ in range(2))
    xs = data.draw(arrays(da, n, **domain.options(0)))
    ys = data.draw(arrays(db, n, **domain.options(1)))
    assert_close(here(MAP2[name], xs, ys), reference(ufunc, xs, ys))


@SETTINGS
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_elementwise_with_weak_scalar(name, data):
    """A Python number meeting an array takes the array's type where it fits (NEP 50)."""
    ufunc, domain = BINARY[name]
    xs = data.draw(arrays(st.sampled_from(domain.dtypes), lengths(20), **domain.options(0)))
    weak = [k for k in domain.kinds if k in (int, float)]
    b = data.draw(operand(domain, 1, data.draw(st.sampled_from(weak))))
    assert_close(here(MAP2_WEAK[name], xs, b), reference(ufunc, xs, b))


@SETTINGS
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_on_scalars(name, data):
    ufunc, domain = UNARY[name]
    a = data.draw(operand(domain, 0, data.draw(st.sampled_from(domain.kinds))))
    assert_close(here(SCALAR1[name], a), weakify(reference(ufunc, a), a))


@SETTINGS
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_elementwise(name, data):
    ufunc, domain = UNARY[name]
    xs = data.draw(arrays(st.sampled_from(domain.dtypes), lengths(20), **domain.options(0)))
    assert_close(here(MAP1[name], xs), reference(ufunc, xs))


# -- the operator syntax maps onto the same meanings ----------------------------------------

@parallel
def syntax_binary(a, b):
    return (a + b, a - b, a * b, a / b, a // b, a % b, a == b, a != b, a < b, a <= b,
            a > b, a >= b)


@parallel
def syntax_int(a, b):
    return (a << b, a >> b, a | b, a ^ b, a & b, ~a, a ** b)


@parallel
def syntax_unary(a):
    return (-a, +a, not a, abs(a))


@SETTINGS
@given(st.data(), st.sampled_from(NUM), st.sampled_from(NUM))
def test_operator_syntax(data, ka, kb):
    a, b = data.draw(scalars(ka)), data.draw(scalars(kb, nonzero=True))
    ufuncs = (np.add, np.subtract, np.multiply, np.true_divide, np.floor_divide, np.remainder,
              np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal)
    expected = tuple(weakify(reference(f, a, b), a, b) for f in ufuncs)
    assert_close(here(syntax_binary, a, b), expected)
    expected = (weakify(reference(np.negative, a), a), weakify(reference(np.positive, a), a),
                np.logical_not(a), weakify(reference(np.abs, a), a))
    assert_close(here(syntax_unary, a), expected)


@SETTINGS
@given(st.data(), st.sampled_from(INTS), st.sampled_from(INTS))
def test_integer_operator_syntax(data, ka, kb):
    a, b = data.draw(scalars(ka)), data.draw(scalars(kb, lo=0, hi=3))
    ufuncs = (np.left_shift, np.right_shift, np.bitwise_or, np.bitwise_xor, np.bitwise_and)
    expected = tuple(weakify(reference(f, a, b), a, b) for f in ufuncs) + (
        weakify(np.invert(a), a), weakify(reference(np.power, a, b), a, b))
    assert_close(here(syntax_int, a, b), expected)


# -- Python's arithmetic: true division, flooring // and % ----------------------------------

@parallel
def divisions(a, b):
    return (a / b, a // b, a % b)


@parallel
def divisions_elementwise(xs, ys):
    return (map(lambda a, b: a / b, xs, ys), map(lambda a, b: a // b, xs, ys),
            map(lambda a, b: a % b, xs, ys))


@SETTINGS
@given(st.integers(-50, 50), st.integers(-50, 50).filter(bool))
def test_int_division_is_pythons(a, b):
    assert_close(here(divisions, a, b), (a / b, a // b, a % b))
    assert_close(here(divisions, np.int32(a), np.int32(b)),
                 (np.float64(a / b), np.int32(a // b), np.int32(a % b)))
    xs, ys = np.array([a, -a, a], dtype=I64), np.array([b, b, -b], dtype=I64)
    expected = ([x / y for x, y in zip(xs.tolist(), ys.tolist())],
                [x // y for x, y in zip(xs.tolist(), ys.tolist())],
                [x % y for x, y in zip(xs.tolist(), ys.tolist())])
    assert_close(here(divisions_elementwise, xs, ys),
                 (np.array(expected[0]), np.array(expected[1], dtype=I64),
                  np.array(expected[2], dtype=I64)))


@SETTINGS
@given(st.floats(-100, 100, allow_subnormal=False),
       st.floats(-100, 100, allow_subnormal=False).filter(lambda v: abs(v) > 1e-3))
def test_float_division_is_pythons(a, b):
    assert_close(here(divisions, a, b), (a / b, a // b, a % b))
    xs, ys = np.array([a, -a], dtype=F64), np.array([b, b], dtype=F64)
    expected = tuple(np.array([f(x, y) for x, y in zip(xs.tolist(), ys.tolist())])
                     for f in (operator.truediv, operator.floordiv, operator.mod))
    assert_close(here(divisions_elementwise, xs, ys), expected)


def test_floor_division_and_modulo_with_negative_operands():
    assert_close(here(divisions, -7, 2), (-3.5, -4, 1))
    assert_close(here(divisions, 7, -2), (-3.5, -4, -1))
    assert_close(here(divisions, np.int32(-7), np.int32(2)),
                 (np.float64(-3.5), np.int32(-4), np.int32(1)))
    assert_close(here(divisions, np.float32(-7.5), np.float32(2)),
                 (np.float32(-3.75), np.float32(-4), np.float32(0.5)))
    assert_close(here(divisions, -7.5, -2.0), (3.75, 3.0, -1.5))


def test_division_by_zero_follows_numpy():
    """Documented in operators.py: no exception; inf/nan for floats, 0 for integers."""
    for a, b in ((np.float32(1), np.float32(0)), (np.float64(-1), 0.0), (np.int32(7), 0),
                 (np.int64(-7), np.int64(0))):
        expected = tuple(reference(f, a, b)
                         for f in (np.true_divide, np.floor_divide, np.remainder))
        assert_close(here(divisions, a, b), expected)
    assert_close(here(divisions, 7, 0), (math.inf, 0, 0))
    assert_close(here(divisions, np.int32(7), np.int32(0)),
                 (np.float64(np.inf), np.int32(0), np.int32(0)))


# -- select / where -------------------------------------------------------------------------

@parallel
def select_of(p, a, b):
    return select(p, a, b)


@parallel
def where_of(p, a, b):
    return where(p, a, b)


@parallel
def select_elementwise(ps, xs, ys):
    return (map(lambda p, a, b: select(p, a, b), ps, xs, ys),
            map(lambda p, a, b: where(p, a, b), ps, xs, ys))


@SETTINGS
@given(st.data(), st.booleans(), st.sampled_from(NUM), st.sampled_from(NUM))
def test_select_where_on_scalars(data, p, ka, kb):
    a, b = data.draw(scalars(ka)), data.draw(scalars(kb))
    expected = weakify(np.where(p, a, b), a, b)
    assert_close(here(select_of, np.bool_(p), a, b), expected)
    assert_close(here(where_of, p, a, b), expected)


@SETTINGS
@given(st.data(), lengths(20), dtypes(), dtypes())
def test_select_where_elementwise(data, n, da, db):
    ps = data.draw(arrays(BOOL_DTYPE, n))
    xs, ys = data.draw(arrays(da, n)), data.draw(arrays(db, n))
    expected = np.where(ps, xs, ys)
    assert_close(here(select_elementwise, ps, xs, ys), (expected, expected))


# -- casts ----------------------------------------------------------------------------------

CASTS = {"int32": I32, "int64": I64, "float32": F32, "float64": F64}


def cast_reference(x, dtype: np.dtype):
    """Toward zero for float -> integer, as C and NumPy's astype."""
    if dtype.kind in "iu" and isinstance(x, (float, np.floating)):
        return dtype.type(math.trunc(float(x)))
    return dtype.type(x)


def astype_reference(xs, dtype: np.dtype):
    if dtype.kind in "iu" and xs.dtype.kind == "f":
        xs = np.trunc(xs)
    return xs.astype(dtype)


CAST_SCALAR = {name: scalar_unary(getattr(cupar, name)) for name in CASTS}
CAST_MAP = {name: map_unary(getattr(cupar, name)) for name in CASTS}


@parallel
def python_casts(x):
    return (int(x), float(x), bool(x))


@SETTINGS
@pytest.mark.parametrize("name", sorted(CASTS))
@given(data=st.data())
def test_cast_scalars_truncate_toward_zero(name, data):
    kind = data.draw(st.sampled_from(NUM + (BOOL_DTYPE,)))
    x = data.draw(scalars(kind, lo=-1000, hi=1000))
    assert_close(here(CAST_SCALAR[name], x), cast_reference(x, CASTS[name]))


@SETTINGS
@pytest.mark.parametrize("name", sorted(CASTS))
@given(xs=arrays(dtypes(NUMERIC_DTYPES + (BOOL_DTYPE,)), lengths(20), lo=-1000, hi=1000))
def test_cast_elementwise(name, xs):
    assert_close(here(CAST_MAP[name], xs), astype_reference(xs, CASTS[name]))


@SETTINGS
@given(st.data(), st.sampled_from(NUM))
def test_python_casts(data, kind):
    x = data.draw(scalars(kind, lo=-1000, hi=1000))
    expected = (int(math.trunc(float(x))), float(x), np.bool_(x != 0))
    assert_close(here(python_casts, x), expected)


def test_casts_truncate_negative_floats_toward_zero():
    assert_close(here(CAST_SCALAR["int32"], np.float32(-2.7)), np.int32(-2))
    assert_close(here(CAST_SCALAR["int64"], -2.7), np.int64(-2))
    assert_close(here(CAST_MAP["int32"], np.array([-1.5, 1.5, -0.5])),
                 np.array([-1, 1, 0], dtype=I32))


@parallel
def cast_to_of(x, like):
    return cast_to(x, like)


@parallel
def cast_to_el_of(x, ys):
    return cast_to_el(x, ys)


@parallel
def cast_to_elementwise(xs, like, ys):
    return (map(lambda a: cast_to(a, like), xs), map(lambda a: cast_to_el(a, ys), xs))


def type_of(kind):
    """The dtype values of `kind` are stored in (Python numbers: 64 bits)."""
    return {int: I64, float: F64}.get(kind, kind)


@SETTINGS
@given(st.data(), st.sampled_from(NUM), st.sampled_from(NUM), dtypes())
def test_cast_to(data, kx, klike, el):
    x, like = data.draw(scalars(kx, lo=-1000, hi=1000)), data.draw(scalars(klike))
    ys = data.draw(arrays(el, lengths(5)))
    expected = cast_reference(x, type_of(klike))
    if is_weak(like):
        expected = expected.item()
    assert_close(here(cast_to_of, x, like), expected)
    assert_close(here(cast_to_el_of, x, ys), cast_reference(x, el))
    xs = data.draw(arrays(type_of(kx), lengths(20), lo=-1000, hi=1000))
    assert_close(here(cast_to_elementwise, xs, like, ys),
                 (astype_reference(xs, type_of(klike)), astype_reference(xs, el)))


# -- bounds ---------------------------------------------------------------------------------

@parallel
def bounds_of(x):
    return (max_bound(x), min_bound(x))


@parallel
def bounds_el(xs):
    return (max_bound_el(xs), min_bound_el(xs))


@parallel
def bounds_elementwise(xs):
    return (map(lambda a: max_bound(a), xs), map(lambda a: min_bound(a), xs))


def dtype_bounds(dtype: np.dtype):
    if dtype == BOOL_DTYPE:
        return np.True_, np.False_
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return dtype.type(info.max), dtype.type(info.min)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES + (BOOL_DTYPE,))
def test_bounds_of_numpy_types(dtype):
    hi, lo = dtype_bounds(dtype)
    assert_close(here(bounds_of, dtype.type(1)), (hi, lo))
    assert_close(here(bounds_el, np.zeros(3, dtype=dtype)), (hi, lo))
    assert_close(here(bounds_el, np.zeros(0, dtype=dtype)), (hi, lo))
    assert_close(here(bounds_elementwise, np.zeros(2, dtype=dtype)),
                 (np.full(2, hi, dtype=dtype), np.full(2, lo, dtype=dtype)))


def test_bounds_of_python_numbers_are_64_bit_and_weak():
    assert_close(here(bounds_of, 3), (2 ** 63 - 1, -2 ** 63))
    assert_close(here(bounds_of, 3.0), (sys.float_info.max, -sys.float_info.max))


# -- and / or short-circuit, chained comparisons ------------------------------------------

@parallel
def positive_at(xs, i):
    return i < len(xs) and xs[i] > 0


@parallel
def missing_or_nonpositive(xs, i):
    return i >= len(xs) or xs[i] <= 0


@parallel
def positive_flags(xs, extra):
    return map(lambda i: i < len(xs) and xs[i] > 0, range(len(xs) + extra))


@parallel
def and_or_values(a, b):
    return (a and b, a or b)


@parallel
def first_positive(xs):
    return len(xs) > 0 < xs[0]


@parallel
def chained(a, b, c, d):
    return (a < b < c, a <= b < c <= d, a < b > c, a == b == c, a != b != c)


@SETTINGS
@given(arrays(lo=-5, hi=5), st.integers(0, 60))
def test_and_or_short_circuit(xs, i):
    inside = i < len(xs)
    assert_close(here(positive_at, xs, i), np.bool_(inside and xs[i] > 0))
    assert_close(here(missing_or_nonpositive, xs, i), np.bool_(not inside or xs[i] <= 0))
    assert_close(here(positive_flags, xs, 3), np.concatenate([xs > 0, np.zeros(3, bool)]))


@SETTINGS
@given(arrays(lo=-5, hi=5))
def test_chained_comparison_short_circuits(xs):
    assert_close(here(first_positive, xs), np.bool_(len(xs) > 0 and xs[0] > 0))


@SETTINGS
@given(st.data(), st.sampled_from(NUM))
def test_and_or_values_like_python(data, kind):
    a, b = data.draw(scalars(kind, lo=-2, hi=2)), data.draw(scalars(kind, lo=-2, hi=2))
    assert_close(here(and_or_values, a, b), (a and b, a or b))


@SETTINGS
@given(st.data(), st.sampled_from(NUM))
def test_chained_comparisons(data, kind):
    a, b, c, d = (data.draw(scalars(kind, lo=-2, hi=2)) for _ in range(4))
    expected = tuple(np.bool_(v) for v in
                     (a < b < c, a <= b < c <= d, a < b > c, a == b == c, a != b != c))
    assert_close(here(chained, a, b, c, d), expected)


# -- conditional expressions and if / elif / else -----------------------------------------

@parallel
def magnitude(x):
    return x if x >= 0 else -x


@parallel
def relu_all(xs):
    return map(lambda x: x if x > 0 else 0, xs)


@parallel
def guarded_at(xs, i):
    return xs[i] if i < len(xs) else 0


@parallel
def sign(x):
    if x < 0:
        return -1
    elif x == 0:
        return 0
    else:
        return 1


@parallel
def clamp(x, lo, hi):
    if x < lo:
        y = lo
    elif x > hi:
        y = hi
    else:
        y = x
    return y


@parallel
def signs(xs):
    def sign_of(x):
        if x < 0:
            return -1
        elif x > 0:
            return 1
        else:
            return 0
    return map(sign_of, xs)


@SETTINGS
@given(st.data(), st.sampled_from(NUM))
def test_conditional_expression(data, kind):
    x = data.draw(scalars(kind))
    assert_close(here(magnitude, x), weakify(np.abs(x), x))
    assert_close(here(sign, x), -1 if x < 0 else (0 if x == 0 else 1))
    assert_close(here(clamp, x, -10, 10), weakify(type_of(kind).type(np.clip(x, -10, 10)), x))


@SETTINGS
@given(arrays(), st.integers(0, 60))
def test_conditionals_elementwise(xs, i):
    assert_close(here(relu_all, xs), np.where(xs > 0, xs, 0))
    assert_close(here(signs, xs), np.sign(xs).astype(I64))
    assert_close(here(guarded_at, xs, i), xs[i] if i < len(xs) else xs.dtype.type(0))


# -- NEP 50: Python numbers are weak --------------------------------------------------------

@parallel
def times_two_point_o(x):
    return x * 2.0


@parallel
def plus_one(x):
    return x + 1


@parallel
def halves(xs):
    return map(lambda x: x / 2, xs)


@parallel
def doubled(xs):
    return map(lambda x: x * 2.0, xs)


@parallel
def add_scalar(xs, a):
    return map(lambda x: x + a, xs)


@parallel
def literal_sum():
    return 1 + 2.5


def test_nep50_literals_keep_the_strong_type():
    assert_close(here(times_two_point_o, np.float32(1.5)), np.float32(3.0))
    assert_close(here(times_two_point_o, np.int32(3)), np.float64(6.0))
    assert_close(here(plus_one, np.int32(3)), np.int32(4))
    assert_close(here(plus_one, np.float32(0.5)), np.float32(1.5))
    assert_close(here(plus_one, 3), 4)
    assert_close(here(literal_sum), 3.5)
    assert_close(here(halves, np.arange(4, dtype=I32)), np.arange(4) / 2)
    assert_close(here(halves, np.arange(4, dtype=F32)), np.arange(4, dtype=F32) / 2)
    assert_close(here(doubled, np.arange(4, dtype=F32)), np.arange(4, dtype=F32) * 2)


@SETTINGS
@given(arrays(), st.integers(-50, 50), st.floats(-50, 50))
def test_nep50_python_arguments_are_weak_numpy_ones_strong(xs, i, f):
    assert_close(here(add_scalar, xs, i), xs + i)
    assert_close(here(add_scalar, xs, f), xs + f)
    assert_close(here(add_scalar, xs, np.int64(i)), xs + np.int64(i))
    assert_close(here(add_scalar, xs, np.float64(f)), xs + np.float64(f))
    assert_close(here(add_scalar, xs, np.float32(f)), xs + np.float32(f))
