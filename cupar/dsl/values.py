"""Run-time values and their types.

Representation (shared by the interpreter and the boundaries of compiled places):

* a strong scalar is a NumPy scalar of its dtype; a weak one (`int`, `float`) a Python number;
* a sequence of scalars is a 1-D NumPy array; a sequence of sequences an N-D array (rows);
* a sequence of tuples is a `TupleSeq`: one sequence per tuple position (its columns), so
  `zip` and `unzip` never copy;
* a tuple is a Python tuple.
"""

from __future__ import annotations

import numpy as np

from ..compiler.types import (BOOL, DTYPES, WEAK_FLOAT, WEAK_INT, Fn, Scalar, Seq, Tuple,
                              format_type, fresh_dim)
from ..errors import CuparTypeError, CuparValueError, Loc


class TupleSeq:
    """A sequence of tuples stored as columns. `len`, indexing and iteration give tuples;
    `.columns` gives the columns themselves, without a copy.

    >>> ts = TupleSeq((np.arange(3), np.ones(3)))
    >>> ts[1]
    (np.int64(1), np.float64(1.0))
    """

    __slots__ = ("columns", "depth")

    def __init__(self, columns, depth: int = 1):
        self.columns = tuple(columns)
        self.depth = depth  # 1: elements are tuples; 2: elements are TupleSeqs of rows ...
        lengths = {len(c) for c in self.columns}
        if len(lengths) > 1:
            raise CuparValueError(f"columns of different lengths {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def __getitem__(self, i):
        parts = tuple(c[i] for c in self.columns)
        return parts if self.depth == 1 else TupleSeq(parts, self.depth - 1)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __eq__(self, other):
        return (isinstance(other, TupleSeq) and len(self) == len(other)
                and all(np.array_equal(a, b) if not isinstance(a, TupleSeq) else a == b
                        for a, b in zip(self.columns, other.columns)))

    def tolist(self) -> list:
        return [tuple(_plain(v) for v in t) if self.depth == 1 else t.tolist() for t in self]

    def __repr__(self) -> str:
        return f"TupleSeq({self.tolist()!r})"


def _plain(v):
    return v.tolist() if hasattr(v, "tolist") else v


def type_of_value(value, what: str, loc: Loc | None = None):
    """The cupar type of a Python argument, or a CuparTypeError naming `what`."""
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, np.generic):  # first: np.float64 subclasses float, yet is strong
        return Scalar(_dtype_name(value.dtype, what, loc))
    if isinstance(value, int):
        return _weak_int(value, what, loc)
    if isinstance(value, float):
        return WEAK_FLOAT
    if isinstance(value, TupleSeq):
        cols = [type_of_value(c, what, loc) for c in value.columns]
        return _zip_types(cols, value.depth)
    if isinstance(value, tuple):
        return Tuple(tuple(type_of_value(v, what, loc) for v in value))
    if callable(value) or value is None or isinstance(value, (str, bytes, dict, set)):
        kind = "None" if value is None else f"a {type(value).__name__}"
        raise CuparTypeError(f"{what} is {kind}, which cupar cannot take",
                             loc, "pass numbers, NumPy arrays (or array-likes) and tuples")
    device = device_dtype_and_ndim(value)
    if device is not None:  # on a GPU: typed without a copy
        return _array_type(np.empty((0,) * device[1], device[0]), what, loc)
    return _array_type(as_array(value, what, loc), what, loc)


def device_dtype_and_ndim(value):
    """(dtype, ndim) of an array in GPU memory (cupar's, Numba's, CuPy's...), else None."""
    if isinstance(value, np.ndarray):
        return None
    try:
        face = value.__cuda_array_interface__
        return np.dtype(face["typestr"]), len(face["shape"])
    except (AttributeError, KeyError, TypeError):
        pass
    if hasattr(value, "copy_to_host") and hasattr(value, "dtype"):  # Numba's (simulated)
        return np.dtype(value.dtype), len(value.shape)
    return None


def _weak_int(value: int, what: str, loc: Loc | None):
    """A Python int is an i64 once it meets the machine: it must fit in one."""
    if not -2**63 <= value < 2**63:
        raise CuparValueError(f"{what} is {value}, which does not fit in int64", loc,
                              "cupar integers have 64 bits; pass a float for larger values")
    return WEAK_INT


def as_array(value, what: str, loc: Loc | None) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        detail = "its rows have different lengths" if "inhomogeneous" in str(exc) else exc
        raise CuparValueError(f"{what} cannot be made into an array: {detail}", loc,
                              "sequences of sequences must be regular (all rows one length)"
                              ) from None


def _array_type(arr: np.ndarray, what: str, loc: Loc | None):
    t = Scalar(_dtype_name(arr.dtype, what, loc))
    if arr.ndim == 0:
        return t
    for _ in range(arr.ndim):
        t = Seq(t, fresh_dim())
    return t


def _zip_types(cols, depth: int):
    if depth == 0:
        return Tuple(tuple(cols))
    length = cols[0].length
    return Seq(_zip_types([c.elem for c in cols], depth - 1), length)


def _dtype_name(dtype: np.dtype, what: str, loc: Loc | None) -> str:
    if dtype.name in DTYPES and dtype.isnative:
        return dtype.name
    raise CuparTypeError(f"{what} has dtype {dtype}, which cupar does not support", loc,
                         f"supported dtypes: {', '.join(DTYPES)}; convert with .astype(...)")


def coerce(value, t):
    """`value` in the representation of type `t` (casting scalars, building arrays)."""
    match t:
        case Scalar(name="int"):
            return int(value)
        case Scalar(name="float"):
            return float(value)
        case Scalar():
            cls = t.dtype.type
            return value if type(value) is cls else cls(value)
        case Tuple(elems):
            return tuple(coerce(v, e) for v, e in zip(value, elems))
        case Seq():
            return coerce_seq(value, t)
        case Fn():
            return value
    raise TypeError(f"cannot coerce to {t!r}")


def coerce_seq(value, t: Seq):
    if isinstance(value, np.ndarray) and not isinstance(t.elem, Tuple):
        dtype = base_scalar(t).dtype
        return value if value.dtype == dtype else value.astype(dtype)
    if isinstance(value, TupleSeq):
        return value
    items = list(value)
    elem = t.elem
    if isinstance(elem, Scalar):
        return np.array([coerce(v, elem) for v in items], dtype=elem.dtype).reshape(len(items))
    if isinstance(elem, Tuple):
        columns = zip(*items) if items else [[] for _ in elem.elems]
        return TupleSeq(coerce_seq(list(c), Seq(e, t.length)) for c, e in zip(columns, elem.elems))
    rows = [coerce_seq(v, elem) for v in items]
    return stack_rows(rows, elem)


def stack_rows(rows: list, elem: Seq):
    if not rows:
        if isinstance(base_elem(elem), Tuple):
            return coerce_seq([], Seq(base_elem(elem), elem.length))
        return np.empty((0,) * (depth(elem) + 1), dtype=base_scalar(elem).dtype)
    if isinstance(rows[0], TupleSeq):
        cols = [stack_rows([r.columns[k] for r in rows], None) for k in range(len(rows[0].columns))]
        return TupleSeq(cols, rows[0].depth + 1)
    shapes = {r.shape for r in rows}
    if len(shapes) > 1:
        lengths = sorted({s[0] for s in shapes})
        raise CuparValueError(f"rows of different lengths {lengths[:4]} in a sequence of "
                              "sequences", None, "cupar's nested sequences are regular: every "
                              "row must have the same length")
    return np.stack(rows)


def base_elem(t):
    while isinstance(t, Seq):
        t = t.elem
    return t


def base_scalar(t) -> Scalar:
    b = base_elem(t)
    if not isinstance(b, Scalar):
        raise TypeError(f"no scalar base in {format_type(t)}")
    return b


def depth(t) -> int:
    n = 0
    while isinstance(t, Seq):
        n, t = n + 1, t.elem
    return n
