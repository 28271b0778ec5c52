"""Adjoint contributions: how the cotangents a name receives from its uses are gathered and
summed (the bookkeeping of the `differentiate` pass, autodiff.py).

A use contributes a whole adjoint (`dense`), an adjoint of one field of a tuple (`parts`), or
an element read by index (a `Pair`: a value to add at an index). When every use is seen, the
contributions are summed: dense ones added, single pairs added by a one-hot map over the
positions, columns of pairs by `reduce_by_index`. A name captured by a lambda is summed
inside it and handed to the lambda's caller (the map or cond being differentiated).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .build import Builder
from .ir import Body, Lambda, Var
from .types import Scalar, Seq, Tuple


@dataclass(frozen=True)
class Pair:
    """An element read by index: `value` is added at `index` of the sequence. `many`: both
    are sequences (a column of pairs); `padded`: a branch that read nothing gave (0, 0),
    which is harmless unless the sequence is empty (then nothing was read at all)."""

    index: object
    value: object
    many: bool = False
    padded: bool = False


@dataclass
class Contributions:
    dense: list = field(default_factory=list)  # whole adjoints, to be summed
    parts: dict = field(default_factory=dict)  # tuple field -> adjoints of that field
    pairs: list = field(default_factory=list)  # Pair


class Adjoints:
    """The adjoint contributions gathered in one scope (a function body, a lambda body, a
    branch), by name."""

    def __init__(self, d):  # the Differentiator: which names are active
        self.d, self.found = d, {}

    def of(self, atom) -> Contributions | None:
        if isinstance(atom, Var) and atom.name in self.d.active:
            return self.found.setdefault(atom.name, Contributions())
        return None

    def add(self, atom, ct) -> None:
        c = self.of(atom)
        if c is not None:
            c.dense.append(ct)

    def add_part(self, atom, k: int, ct) -> None:
        c = self.of(atom)
        if c is not None:
            c.parts.setdefault(k, []).append(ct)

    def add_pair(self, atom, pair: Pair) -> None:
        c = self.of(atom)
        if c is not None:
            c.pairs.append(pair)

    def take(self, var: Var, b: Builder):
        """The adjoint of `var`, bound in this scope: every contribution summed (None when
        there is none)."""
        c = self.found.pop(var.name, None)
        if c is None:
            return None
        total = self.dense_total(c, var, b)
        single = [p for p in c.pairs if not p.many]
        if single:
            total = one_hot(b, var, total, single)
        return scatter_pairs(b, var, total, [p for p in c.pairs if p.many])

    def take_free(self, var: Var, b: Builder, keep: str):
        """The adjoint of `var`, captured by this scope, as (dense adjoint or None, pairs
        kept apart). `keep`: "all" single pairs (a map's function: they become columns), or
        "numbers" (a branch: pairs of rows are added in here, pairs of numbers padded)."""
        c = self.found.pop(var.name, None)
        if c is None:
            return None, []
        total = self.dense_total(c, var, b)
        rows = isinstance(var.type, Seq) and not isinstance(var.type.elem, Scalar)
        kept = [p for p in c.pairs if not p.many and (keep == "all" or not rows)]
        added = [p for p in c.pairs if not p.many and p not in kept]
        if added:
            total = one_hot(b, var, total, added)
        many = [p for p in c.pairs if p.many]
        if many:
            total = scatter_pairs(b, var, total, many)
        return total, kept

    def dense_total(self, c: Contributions, var: Var, b: Builder):
        t = var.type
        if not c.parts:
            return b.total(c.dense, t) if c.dense else None
        fields = []
        for k, elem in enumerate(t.elems):
            atoms = c.parts.get(k, []) + [b.field(whole, k) for whole in c.dense]
            fields.append(b.total(atoms, elem) if atoms else
                          b.zeros_like(b.field(var, k), elem))
        return b.prim("tuple", *fields)

    def leftover(self) -> set[str]:
        return set(self.found)


def one_hot(b: Builder, var: Var, total, pairs: list):
    """`total` (or zeros) with each pair's value added at its index, in one map over the
    positions of `var` (a few reads of single elements: no scatter needed)."""
    elem = var.type.elem
    n = b.prim("len", var)
    spots = [b.choose(b.prim("cmp_lt", p.index, b.const(0)), b.prim("op_add", p.index, n),
                      p.index, Scalar("int64")) for p in pairs]
    base = total if total is not None else b.zeros_like(var, var.type)

    def element(ib: Builder, k, x):
        for spot, p in zip(spots, pairs):
            x = added_where(ib, ib.prim("cmp_eq", k, spot), x, p.value, elem)
        return x
    return b.prim("map", b.lam(2, element), b.prim("indices", var), base)


def added_where(b: Builder, pred, x, v, t):
    """x + v where pred holds, else x; rows number by number (a select each, rather than a
    cond choosing whole rows, which compiled places cannot store as rows of rows)."""
    if isinstance(t, Seq):
        return b.prim("map", b.lam(2, lambda ib, a, c: added_where(ib, pred, a, c, t.elem)),
                      x, v)
    return b.choose(pred, b.add(x, v, t), x, t)


def scatter_pairs(b: Builder, var: Var, total, pairs: list):
    """`total` (or zeros) with columns of (index, value) pairs added by reduce_by_index. A
    padded column may hold (0, 0) for elements that read nothing; when `var` is empty no
    element read anything, and index 0 would not exist, so the sum is skipped."""
    if not pairs:
        return total
    elem = var.type.elem
    base = total if total is not None else b.zeros_like(var, var.type)
    if isinstance(elem, Tuple):  # reduce_by_index takes numbers and rows: field by field
        fields, values = b.prim("unzip", base), [b.prim("unzip", p.value) for p in pairs]
        return b.prim("zip", *(scatter_pairs(
            b, Var(var.name, Seq(e, var.type.length)), b.field(fields, k),
            [Pair(p.index, b.field(v, k), True, p.padded) for p, v in zip(pairs, values)])
            for k, e in enumerate(elem.elems)))
    for p in pairs:
        add = b.op("op_add")  # rows are added column by column
        if not p.padded:
            base = b.prim("reduce_by_index", add, base, p.index, p.value)
            continue
        empty = b.prim("cmp_eq", b.prim("len", var), b.const(0))
        keep = Lambda((), Body((), base), b.loc)
        inner = b.nested()
        summed = inner.prim("reduce_by_index", add, base, p.index, p.value)
        base = b.prim("cond", empty, keep, Lambda((), inner.body(summed), b.loc))
    return base


def sum_over(b: Builder, column, like, t):
    """The sum of `column`, a sequence of adjoints of `like` of type `t` (one per element of
    a map): numbers by `sum`, sequences row by row, tuples field by field."""
    match t:
        case Scalar():
            return b.prim("sum", column) if t.kind != "b" else b.zero(t)
        case Seq():
            add = b.lam(2, lambda ib, x, y: ib.add(x, y, t))
            return b.prim("reduce", add, column, b.zeros_like(like, t))
        case Tuple(elems):
            cols = b.prim("unzip", column)
            return b.prim("tuple", *(sum_over(b, b.field(cols, k), b.field(like, k), e)
                                     for k, e in enumerate(elems)))
    raise TypeError(f"no sum of {t!r}")
