"""`f(..., out=buf)`: a call's results written into arrays the caller owns, as NumPy's ufuncs do.

`out` mirrors the result: an array for a sequence, a tuple (one entry per element, None where
the caller wants a fresh result) for a tuple, a tuple of columns (or a `TupleSeq`) for a
sequence of tuples. An out array must have the result's dtype and shape exactly: nothing is
cast or broadcast. The call returns `out`. Every place honours it; the cpu place writes a
map's output straight into the caller's array, the others compute and copy.
"""

from __future__ import annotations

import numpy as np

from ..compiler.lower_values import base_elem, depth, flat_types
from ..compiler.types import Scalar, Seq, Tuple, format_type
from ..errors import CuparTypeError, CuparValueError
from .values import TupleSeq


def flat_outs(out, t, where) -> list:
    """The caller's out arrays, one per flat result part of type `t` (None where none is
    given), checked against the result's type; `where` is the caller's Loc."""
    if out is None:
        return [None] * len(flat_types(t))
    if isinstance(t, Tuple):
        check_tuple(out, len(t.elems), t, where)
        return [o for v, e in zip(out, t.elems) for o in flat_outs(v, e, where)]
    if isinstance(t, Seq) and isinstance(t.elem, Tuple):
        columns = out.columns if isinstance(out, TupleSeq) else out
        check_tuple(columns, len(t.elem.elems), t, where)
        return [o for c, e in zip(columns, t.elem.elems)
                for o in flat_outs(c, Seq(e, t.length), where)]
    if isinstance(t, Scalar) or isinstance(base_elem(t), Tuple):
        raise CuparTypeError(f"out= cannot hold a result of type {format_type(t)}", where,
                             "pass None in its place; out= takes arrays for sequence results")
    check_array(out, t, where)
    return [out]


def check_tuple(out, n: int, t, where) -> None:
    if not isinstance(out, tuple) or len(out) != n:
        raise CuparTypeError(
            f"out= must be a tuple of {n} entries for a result of type {format_type(t)}, "
            f"not {type(out).__name__}", where, "give one array (or None) per element")


def check_array(out, t: Seq, where) -> None:
    dtype, ndim = np.dtype(base_elem(t).dtype), depth(t)
    if not (hasattr(out, "shape") and hasattr(out, "dtype")):
        raise CuparTypeError(f"out= must be an array, not {type(out).__name__}", where,
                             f"pass a {ndim}-D {dtype} array, e.g. np.empty_like of an input")
    if np.dtype(out.dtype) != dtype or len(out.shape) != ndim:
        raise CuparTypeError(
            f"out= is a {len(out.shape)}-D {np.dtype(out.dtype)} array, but the result is a "
            f"{ndim}-D {dtype} array", where, "pass an array of the result's dtype and "
            "dimensions; out= never casts")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise CuparValueError("out= is a read-only array", where, "pass a writable array")


def fill(outs: list, parts: list, where) -> list:
    """Copy each result part into its out array (where it is not already there); the parts
    as returned: the out arrays in place of the results they hold."""
    final = []
    for out, part in zip(outs, parts):
        if out is None or out is part:
            final.append(part)
            continue
        if tuple(out.shape) != tuple(np.shape(part)):
            raise CuparValueError(
                f"out= has shape {tuple(out.shape)}, but the result has shape "
                f"{tuple(np.shape(part))}", where, "pass an array of the result's shape")
        copy_into(out, part)
        final.append(out)
    return final


def copy_into(out, part) -> None:
    if isinstance(out, np.ndarray):
        np.copyto(out, part if isinstance(part, np.ndarray) else np.asarray(part))
        return
    from ..runtime.cuda.engine import to_device  # out is a device array: the copy stays there
    to_device(out).copy_to_device(to_device(part))
