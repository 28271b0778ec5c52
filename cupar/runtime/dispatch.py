"""Arguments and results between Python and compiled code, common to both back ends: flat
argument lists, the fast path's argument check, and results rebuilt into cupar's values."""

from __future__ import annotations

import numpy as np

from ..compiler.types import Scalar, Seq, Tuple
from ..errors import CuparIndexError, CuparValueError


def host_array(value):
    """An argument's array part as the cpu code takes it, or None when it is no array."""
    return np.ascontiguousarray(value) if isinstance(value, np.ndarray) else None


def flatten_arg(value, out: list, array=host_array) -> None:
    """The scalar and array parts of an argument, in order; `array` converts array parts."""
    if isinstance(value, tuple):
        for v in value:
            flatten_arg(v, out, array)
    elif hasattr(value, "columns"):  # a TupleSeq
        for c in value.columns:
            flatten_arg(c, out, array)
    else:
        converted = array(value)
        out.append(value if converted is None else converted)


MISS = object()  # a fast call's answer for arguments it does not take


def simple_flat(args: tuple, array_parts: dict) -> list | None:
    """The flat arguments of a fast call: each array converted by `array_parts[type(a)]`,
    numbers as they are; None where another kind of argument comes."""
    flat = []
    for a in args:
        convert = array_parts.get(type(a))
        if convert is not None:
            flat.append(convert(a))
        elif type(a) in (int, float, bool) or isinstance(a, np.generic):
            flat.append(a)
        else:
            return None
    return flat


def contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def result_builder(t):
    """A function from the flat results to the value of type `t`, as `rebuild`, with the
    common shapes made cheap: an array (not of tuples), a scalar; a tuple of those takes
    its parts by position (`rebuild`, recursive and importing at each call, took 9 us for a
    training step's ten results)."""
    if isinstance(t, Seq) and not isinstance(t.elem, Tuple):
        return lambda parts: parts[0]
    if isinstance(t, Scalar):
        convert = scalar_converter(t)
        return lambda parts: convert(parts[0])
    if isinstance(t, Tuple) and all(isinstance(e, Scalar) or (
            isinstance(e, Seq) and not isinstance(e.elem, Tuple)) for e in t.elems):
        converts = tuple(scalar_converter(e) if isinstance(e, Scalar) else None
                         for e in t.elems)
        return lambda parts: tuple([p if c is None else c(p) for p, c in zip(parts, converts)])
    return lambda parts: rebuild(iter(parts), t)


def scalar_converter(t: Scalar):
    """value -> the value as cupar represents a scalar of type `t` (as `coerce` does)."""
    cls = {"int": int, "float": float}.get(t.name) or t.dtype.type
    return lambda v: v if type(v) is cls else cls(v)


def rebuild(parts, t, wrap=lambda a: a):
    """A flat result back into cupar's representation of type `t` (`wrap`: for arrays)."""
    from ..dsl.values import TupleSeq, coerce
    if isinstance(t, Tuple):
        return tuple(rebuild(parts, e, wrap) for e in t.elems)
    if isinstance(t, Seq) and isinstance(t.elem, Tuple):
        return TupleSeq(rebuild(parts, Seq(e, t.length), wrap) for e in t.elem.elems)
    if isinstance(t, Scalar):
        return coerce(next(parts), t)
    return wrap(next(parts))


def located(kernels, exc: Exception) -> Exception:
    """A compiled program's `cupar:<code>` error as the cupar error its Fail names (where in
    the user's source, what, the hint); any other exception as it is."""
    text = str(exc.args[0]) if exc.args else ""
    if not text.startswith("cupar:"):
        return exc
    kind, message, hint, loc = kernels.errors[int(text.split(":")[1])]
    return (CuparIndexError if kind == "index" else CuparValueError)(message, loc, hint)
