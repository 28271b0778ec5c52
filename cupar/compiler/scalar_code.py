"""Scalar primitives as Python expressions that Numba (and numba-cuda) compile.

Each let has a static type, and every expression computes in exactly that type: operands are
cast to the type NumPy would compute in, and results are cast to the let's type, so Numba's
own promotions (small integers to int64, literals to float64) never change an answer.
Arguments are atoms (the IR is flat), so an expression may mention one twice.
"""

from __future__ import annotations

import numpy as np

from .primitives import sample
from .types import WEAK_FLOAT, WEAK_INT, Scalar

INFIX = {"op_add": "+", "op_sub": "-", "op_mul": "*", "op_div": "/", "op_floordiv": "//",
         "op_mod": "%", "op_pow": "**", "op_lshift": "<<", "op_rshift": ">>", "op_or": "|",
         "op_xor": "^", "op_and": "&", "pow": "**"}
COMPARE = {"cmp_eq": "==", "cmp_ne": "!=", "cmp_lt": "<", "cmp_le": "<=", "cmp_gt": ">",
           "cmp_ge": ">="}
MATH = {"sqrt", "exp", "log", "tanh", "sin", "cos", "floor", "ceil", "sigmoid"}
CASTS = {"int32", "int64", "float32", "float64"}
SCALAR_PRIMS = (set(INFIX) | set(COMPARE) | MATH | CASTS |
                {"op_neg", "op_pos", "stop_gradient", "op_invert", "op_not", "abs", "maximum",
                 "minimum",
                 "select", "where", "py_int", "py_float", "py_bool", "cast_to", "max_bound",
                 "min_bound", "min", "max"})


def common(a: Scalar, b: Scalar) -> Scalar:
    """The type NumPy computes `a op b` in (NEP 50 for weak operands)."""
    if a.weak and b.weak:
        return WEAK_FLOAT if "float" in (a.name, b.name) else WEAK_INT
    return Scalar(np.result_type(*(sample(t) if t.weak else t.dtype for t in (a, b))).name)


def cast(expr: str, have: Scalar, want: Scalar) -> str:
    if have.dtype == want.dtype:
        return expr
    return f"np.{want.dtype.name}({expr})"


def literal(value, t: Scalar) -> str:
    if t.name == "bool":
        return "True" if value else "False"
    text = repr(value.item() if hasattr(value, "item") else value)
    if text in ("inf", "-inf", "nan"):
        text = f"np.{t.dtype.name}(float('{text}'))"
        return text
    return text if t.weak else f"np.{t.dtype.name}({text})"


def scalar_expr(prim: str, args: list[str], types: list, result: Scalar) -> str:
    """Python source computing `prim(*args)` in the let's type `result`."""
    raw = _raw(prim, args, types, result)
    exact = CASTS | {"py_int", "py_float", "cast_to", "max_bound", "min_bound"}
    if result.name == "bool" or prim in exact:
        return raw
    return f"np.{result.dtype.name}({raw})"  # Numba widens small integers; NumPy does not


def _raw(prim: str, args: list[str], types: list, result: Scalar) -> str:
    if prim in INFIX:
        a, b = (cast(x, t, result) for x, t in zip(args, types))
        if prim == "op_div" and result.kind != "f":
            return f"({a} / {b})"
        return f"({a} {INFIX[prim]} {b})"
    if prim in COMPARE:
        ct = common(*types)
        a, b = (cast(x, t, ct) for x, t in zip(args, types))
        return f"({a} {COMPARE[prim]} {b})"
    if prim == "sigmoid":  # (no NumPy function: the back ends' helper, given a typed 1)
        return f"np.sigmoid({cast(args[0], types[0], result)}, np.{result.dtype.name}(1))"
    if prim in MATH:
        return f"np.{prim}({cast(args[0], types[0], result)})"
    if prim in CASTS:
        return f"np.{prim}({args[0]})"
    return _other(prim, args, types, result)


def _other(prim: str, args: list[str], types: list, result: Scalar) -> str:
    a = args[0]
    match prim:
        case "op_neg":
            return f"(-{cast(a, types[0], result)})"
        case "op_pos" | "stop_gradient":
            return a
        case "op_invert":
            return f"(not {a})" if types[0].name == "bool" else f"(~{a})"
        case "op_not":
            return f"(not {a})"
        case "abs":
            return f"abs({a})"
        case "maximum" | "minimum" | "max" | "min":
            x, y = (cast(v, t, result) for v, t in zip(args, types))
            if prim in ("maximum", "minimum"):
                return f"np.{prim}({x}, {y})"
            op = ">" if prim == "max" else "<"
            return f"({y} if {y} {op} {x} else {x})"
        case "select" | "where":
            x, y = (cast(v, t, result) for v, t in zip(args[1:], types[1:]))
            return f"({x} if {args[0]} else {y})"
        case "py_int":
            return f"np.int64({a})"
        case "py_float":
            return f"np.float64({a})"
        case "py_bool":
            return f"({a} != 0)"
        case "cast_to":
            return f"np.{result.dtype.name}({a})"
        case "max_bound" | "min_bound":
            return literal(_bound(result, prim == "max_bound"), result)
    raise KeyError(prim)


def _bound(t: Scalar, upper: bool):
    if t.name == "bool":
        return upper
    info = np.finfo(t.dtype) if t.kind == "f" else np.iinfo(t.dtype)
    return info.max if upper else info.min


def scalar_code(body, budget: int = 12) -> bool:
    """Whether a lambda's body is scalar primitives, conditionals of them and tuples of
    numbers only, at most `budget` lets in all: code cheap to repeat per element."""
    from .ir import Const, Lambda, Prim, Var
    from .types import Scalar, Tuple
    if len(body.lets) > budget:
        return False
    for let in body.lets:
        value, t = let.value, let.var.type
        if isinstance(value, (Var, Const)) and isinstance(t, Scalar):
            continue  # a name for a number (what inlining a call leaves)
        if not isinstance(value, Prim):
            return False
        if value.name == "tuple" and isinstance(t, Tuple) and \
                all(isinstance(e, Scalar) for e in t.elems):
            continue
        if not isinstance(t, Scalar):
            return False
        if value.name == "cond":
            if not all(isinstance(a, Lambda) and scalar_code(a.body, budget - len(body.lets))
                       for a in value.args[1:]):
                return False
        elif value.name not in SCALAR_PRIMS and value.name != "index":  # (a number read)
            return False
    return True
