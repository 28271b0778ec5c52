"""The values `lower_to_kernels` works with, and how they flatten to Numba arguments.

A sequence is materialised (`Mat`: an array expression and its dimensions; `Cols`: the
columns of a sequence of tuples) or delayed (`Delayed`: a length and a function producing the
code of element `i`). Scalars are Python expressions (strings); tuples are Python tuples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

from .ir import Lambda
from .types import Scalar, Seq, Tuple

class NotLowered(Exception):
    """A construct the kernel lowering does not handle yet (the message says which)."""


@dataclass
class Mat:
    expr: str
    type: Seq
    dims: tuple  # length expressions, outermost first

    @property
    def length(self) -> str:
        return self.dims[0]


@dataclass
class Cols:
    cols: tuple  # sequences, one per tuple field
    type: Seq

    @property
    def length(self) -> str:
        return length_of(self.cols[0])


@dataclass
class Delayed:
    length: str
    elem: Callable  # (index expression, statements list) -> element value
    type: Seq
    swapped: Mat | None = None  # the transpose of a stored matrix: that matrix
    stored: Mat | None = None  # the same sequence, also stored in this array (a product)
    # a join of rows (xss, m: the rows' length), or a slice of one (xss, m, start: element j
    # is element (start + j) % m of row (start + j) // m): stores then copy whole rows of
    # xss in nested loops instead of dividing per element (see Lowerer.write)
    joined: tuple | None = None
    segment: tuple | None = None
    # split(join(m), k) of a stored matrix m (m, k): stored at the top level as m's elements
    # reshaped, a view (`cupar_reshaped`), not copied
    reshapes: tuple | None = None
    # element code is a few scalar operations on reads (index arithmetic, cheap maps):
    # recomputing an element costs no more than storing and reading it back
    cheap: bool = False


@dataclass
class Closure:
    lam: Lambda
    env: dict
    name: str


def length_of(seq) -> str:
    return seq.length


def base_scalar(t) -> Scalar:
    while isinstance(t, Seq):
        t = t.elem
    return t


def typed(exprs: list, fields: list) -> tuple:
    """Initial values cast to the accumulator's type, so Numba never widens an accumulator."""
    return tuple(f"np.{f.dtype.name}({e})" for e, f in zip(exprs, fields))


def pack(names, t):
    return tuple(names) if isinstance(t, Tuple) else names[0]


def unpack(value, t) -> list:
    return list(value) if isinstance(t, Tuple) else [value]


def tuple_expr(parts: list[str]) -> str:
    return f"({', '.join(parts)},)"


def unflatten_param(name: str, t):
    """The flat parameter names of a value of type `t`, and the structured value."""
    if isinstance(t, Tuple):
        names, parts = [], []
        for k, e in enumerate(t.elems):
            n, v = unflatten_param(f"{name}_{k}", e)
            names += n
            parts.append(v)
        return names, tuple(parts)
    if isinstance(t, Seq):
        if isinstance(base_elem(t), Tuple):
            if isinstance(t.elem, Seq):
                raise NotLowered("sequences of sequences of tuples")
            names, cols = [], []
            for k, e in enumerate(t.elem.elems):
                n, v = unflatten_param(f"{name}_{k}", Seq(e, t.length))
                names += n
                cols.append(v)
            return names, Cols(tuple(cols), t)
        dims = tuple(f"{name}.shape[{k}]" for k in range(depth(t)))
        return [name], Mat(name, t, dims)
    return [name], name


def unflatten_result(name: str, t):
    count = itertools.count()
    return _rebuild(t, lambda: f"{name}[{next(count)}]")


def unflatten_value(names: list[str], t):
    it = iter(names)
    return _rebuild(t, lambda: next(it))


def _rebuild(t, take):
    if isinstance(t, Tuple):
        return tuple(_rebuild(e, take) for e in t.elems)
    if isinstance(t, Seq):
        if isinstance(t.elem, Tuple):
            return Cols(tuple(_rebuild(Seq(e, t.length), take) for e in t.elem.elems), t)
        name = take()
        return Mat(name, t, tuple(f"{name}.shape[{k}]" for k in range(depth(t))))
    return take()


def flat_types(t) -> list:
    if isinstance(t, Tuple):
        return [f for e in t.elems for f in flat_types(e)]
    if isinstance(t, Seq) and isinstance(t.elem, Tuple):
        return [f for e in t.elem.elems for f in flat_types(Seq(e, t.length))]
    return [t]


def base_elem(t):
    while isinstance(t, Seq):
        t = t.elem
    return t


def depth(t) -> int:
    n = 0
    while isinstance(t, Seq):
        n, t = n + 1, t.elem
    return n
