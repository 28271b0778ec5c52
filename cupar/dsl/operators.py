"""Scalar primitives: operators, comparisons, math, casts and type bounds.

Arithmetic follows NumPy 2 exactly, NEP 50 included: a Python number meeting a NumPy scalar
takes its type (`f32 * 2.0` is f32), two Python numbers give a Python number (computed in 64
bits, as compiled code does). `/` is true division; `//` and `%` floor as in Python. Division
by zero follows NumPy (inf/nan for floats, 0 for integers), not Python's exception, so every
place can honour it without a branch per division. The type rule of each operator is read off
its reference implementation (`NUMERIC`), so the two cannot disagree.
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from ..compiler import primitives as rules
from ..compiler.primitives import NUMERIC, primitive

_WIDE = {int: np.int64, float: np.float64}


def _narrow(r):
    """A NumPy result of two Python numbers back to a Python number (bools stay NumPy)."""
    if isinstance(r, np.bool_):
        return r
    return int(r) if isinstance(r, np.integer) else float(r)


def _numeric(op):
    """`op` on NumPy scalars as NumPy defines it; on Python numbers alone, in 64 bits.
    (Floating-point warnings are NumPy's to give; the interpreter silences them.)"""
    def apply(*args):
        for a in args:
            if type(a) not in _WIDE:
                return op(*args)
        return _narrow(op(*(_WIDE[type(a)](a) for a in args)))
    return apply


def _define(name: str, sig: str, op, doc: str, arity: int):
    fn = _numeric(op)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    primitive(sig, NUMERIC, (arity, arity))(fn)
    globals()[name] = fn
    return fn


_BINARY = {
    "op_add": (operator.add, "a + b"), "op_sub": (operator.sub, "a - b"),
    "op_mul": (operator.mul, "a * b"), "op_div": (operator.truediv, "a / b, true division"),
    "op_floordiv": (operator.floordiv, "a // b, rounding toward minus infinity"),
    "op_mod": (operator.mod, "a % b, with the sign of b as in Python"),
    "op_pow": (operator.pow, "a ** b"), "op_lshift": (operator.lshift, "a << b"),
    "op_rshift": (operator.rshift, "a >> b"), "op_or": (operator.or_, "a | b"),
    "op_xor": (operator.xor, "a ^ b"), "op_and": (operator.and_, "a & b"),
    "pow": (operator.pow, "a ** b"), "maximum": (np.maximum, "the larger of a and b (NaN wins)"),
    "minimum": (np.minimum, "the smaller of a and b (NaN wins)"),
}
_COMPARE = {"cmp_eq": (operator.eq, "=="), "cmp_ne": (operator.ne, "!="),
            "cmp_lt": (operator.lt, "<"), "cmp_le": (operator.le, "<="),
            "cmp_gt": (operator.gt, ">"), "cmp_ge": (operator.ge, ">=")}
_UNARY = {"op_neg": (operator.neg, "-a"), "op_pos": (operator.pos, "+a"),
          "op_invert": (operator.invert, "~a (logical not for bool)"),
          "op_not": (lambda a: np.bool_(not a), "not a"),
          "stop_gradient": (lambda a: a, "a itself, through which no derivative flows (JAX's "
                            "`stop_gradient`): a shift a result does not depend on, such as "
                            "the maximum logsumexp subtracts, costs no backward work")}


def _sigmoid(x):
    """1 / (1 + e^-x), with exp taken of -|x| only, so it never overflows (for x < 0 the
    result is e^x / (1 + e^x)). A primitive rather than a @parallel function so that its
    derivative is s (1 - s) (the derived one of this formula took a division and a dozen
    operations more in an LSTM's backward step)."""
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    return r if x >= 0 else e * r


_MATH = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "tanh": np.tanh, "sin": np.sin,
         "cos": np.cos, "floor": np.floor, "ceil": np.ceil, "sigmoid": _sigmoid}

for _name, (_op, _what) in _BINARY.items():
    _define(_name, "(num a, num b) -> promote(a, b)", _op,
            f"{_what}, with NumPy's type promotion (NEP 50 for Python numbers).", 2)
for _name, (_op, _sym) in _COMPARE.items():
    _define(_name, "(num a, num b) -> bool", lambda a, b, _op=_op: np.bool_(_op(a, b)),
            f"a {_sym} b, comparing in the promoted type.", 2)
for _name, (_op, _what) in _UNARY.items():
    _define(_name, "num a -> a", _op, f"{_what}.", 1)


for _name, _fn in _MATH.items():
    _define(_name, "num a -> as NumPy computes it (sqrt(i32) is f64)", _fn,
            f"{_name}(x) as NumPy computes it; a Python number gives a Python float, like the "
            "math module, so `x * sqrt(2.0)` keeps the type of x.", 1)


@primitive("num a -> a", NUMERIC, (1, 1))
def abs(x):
    """|x|, in the type of x."""
    return builtins.abs(x)


# -- selection ----------------------------------------------------------------------------

@primitive("(bool, num a, num b) -> promote(a, b)", rules.select_rule, (3, 3))
def select(pred, a, b):
    """`a` if pred else `b`, both evaluated (a branch-free conditional)."""
    return a if pred else b


@primitive("(bool, num a, num b) -> promote(a, b)", rules.select_rule, (3, 3))
def where(pred, a, b):
    """The same as select: `a` if pred else `b`, like np.where on scalars."""
    return a if pred else b


# -- casts --------------------------------------------------------------------------------

def _cast(dtype: str):
    def cast(x):
        return np.dtype(dtype).type(x)
    cast.__name__ = cast.__qualname__ = dtype
    cast.__doc__ = (f"x converted to {dtype} (floats to integers truncate toward zero, as "
                    "NumPy's astype).")
    primitive(f"num -> {dtype}", rules.cast_rule(dtype), (1, 1))(cast)
    return cast


int32, int64, float32, float64 = (_cast(d) for d in ("int32", "int64", "float32", "float64"))


@primitive("num -> int", rules.cast_rule("int"), (1, 1))
def py_int(x):
    """Python's int(x): truncate toward zero, giving a (weakly typed) Python int."""
    return int(x)


@primitive("num -> float", rules.cast_rule("float"), (1, 1))
def py_float(x):
    """Python's float(x): a (weakly typed) Python float."""
    return float(x)


@primitive("num -> bool", rules.cast_rule("bool"), (1, 1))
def py_bool(x):
    """Python's bool(x): x != 0."""
    return np.bool_(x)


@primitive("(num, num b) -> b", rules.cast_to_rule, (2, 2))
def cast_to(x, like):
    """x converted to the type of `like`."""
    return type(like)(x)


@primitive("(num, [b]) -> b", rules.cast_to_el_rule, (2, 2))
def cast_to_el(x, xs):
    """x converted to the element type of the sequence `xs`."""
    return np.asarray(xs).dtype.type(x)


# -- bounds -------------------------------------------------------------------------------

def _bound(t, upper: bool):
    if type(t) is float or np.issubdtype(t, np.floating):
        info = np.finfo(np.float64 if t is float else t)
        return (float if t is float else t)(info.max if upper else info.min)
    if t is int:
        return int(np.iinfo(np.int64).max if upper else np.iinfo(np.int64).min)
    if np.dtype(t) == np.bool_:
        return np.bool_(upper)
    info = np.iinfo(t)
    return t(info.max if upper else info.min)


@primitive("num a -> a", rules.same_scalar_rule, (1, 1))
def max_bound(x):
    """The largest value of x's type (the identity of min-reductions)."""
    return _bound(type(x), True)


@primitive("num a -> a", rules.same_scalar_rule, (1, 1))
def min_bound(x):
    """The smallest (most negative) finite value of x's type."""
    return _bound(type(x), False)


@primitive("[a] -> a", rules.elem_rule, (1, 1))
def max_bound_el(xs):
    """The largest value of the element type of xs."""
    return _bound(np.asarray(xs).dtype.type, True)


@primitive("[a] -> a", rules.elem_rule, (1, 1))
def min_bound_el(xs):
    """The smallest finite value of the element type of xs."""
    return _bound(np.asarray(xs).dtype.type, False)


OPERATOR_NAMES = (list(_BINARY) + list(_COMPARE) + list(_UNARY) + list(_MATH) +
                  ["abs", "select", "where", "int32", "int64", "float32", "float64", "cast_to",
                   "cast_to_el", "max_bound", "min_bound", "max_bound_el", "min_bound_el"])
