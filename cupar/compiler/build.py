"""Building IR by hand: fresh names, lets emitted in order, lambdas from Python callbacks.

Passes that make new code (the derivative transform) emit untyped lets through a `Builder` and
let `infer_types` type the result, so the type checker also checks what they built. Every let
carries the location of the user's code it was derived from.

    b = Builder(Names(program), loc)
    total = b.prim("sum", b.prim("map", b.lam(1, lambda b, x: b.prim("op_mul", x, x)), xs))
"""

from __future__ import annotations

import itertools

from ..errors import Loc
from .ir import (Body, Const, Lambda, Let, Prim, Program, Var, bound_names, substitute)
from .types import Scalar, Seq, Tuple


class Names:
    """Fresh names that clash with no name of the program."""

    def __init__(self, program: Program):
        self.used: set[str] = set()
        for fn in program.functions.values():
            self.used |= {p.name for p in fn.params} | bound_names(fn.body)
        self.ids = itertools.count()
        self.copied_from: dict[str, str] = {}  # a renamed copy's binder -> the original's

    def fresh(self, base: str) -> str:
        base = base.split("__d")[0]
        while True:
            name = f"{base}__d{next(self.ids)}"
            if name not in self.used:
                self.used.add(name)
                return name

    def renamed(self, node):
        """A copy of a Lambda or Body whose every binder has a fresh name, so the copy can
        stand beside the original in one function."""
        # sorted: fresh names must not follow set order (string hashing varies by process),
        # or the generated source, and so its disk-cache key, changes from run to run
        table = {n: Var(self.fresh(n)) for n in sorted(bound_names(node))}
        self.copied_from.update({new.name: old for old, new in table.items()})
        return substitute(node, table)

    def copies(self, name: str) -> list[str]:
        """`name` and the names it is a renamed copy of, nearest first."""
        out = [name]
        while out[-1] in self.copied_from:
            out.append(self.copied_from[out[-1]])
        return out


class Builder:
    """Emits lets, in order, into `lets`; `loc` is given to each."""

    def __init__(self, names: Names, loc: Loc | None):
        self.names, self.loc = names, loc
        self.lets: list[Let] = []

    def emit(self, value, base: str = "t") -> Var:
        var = Var(self.names.fresh(base), None, self.loc)
        self.lets.append(Let(var, value, self.loc))
        return var

    def prim(self, name: str, *args) -> Var:
        return self.emit(Prim(name, tuple(args), self.loc))

    def lam(self, arity: int, build, base: str = "a") -> Lambda:
        """A lambda of `arity` parameters whose body `build(builder, *params)` emits,
        returning the result atom."""
        params = tuple(Var(self.names.fresh(base), None, self.loc) for _ in range(arity))
        inner = self.nested()
        result = build(inner, *params)
        return Lambda(params, inner.body(result), self.loc)

    def nested(self) -> "Builder":
        return Builder(self.names, self.loc)

    def body(self, result) -> Body:
        if not isinstance(result, (Var, Const)):
            raise TypeError(f"a body ends in an atom, not {result!r}")
        return Body(tuple(self.lets), result)

    def inline(self, lam: Lambda, args) -> object:
        """Emit a renamed copy of `lam`'s body with its parameters bound to `args`; return
        the copy's result atom."""
        copy = self.names.renamed(lam)
        for p, a in zip(copy.params, args):
            self.lets.append(Let(Var(p.name, p.type, self.loc), a, self.loc))
        self.lets += copy.body.lets
        return copy.body.result

    # -- values of a given type --------------------------------------------------------
    def zero(self, t: Scalar) -> Const:
        if t.weak:  # a Python number stays weak, taking the type of what it meets
            return Const(0.0 if t.name == "float" else 0, None, self.loc)
        return Const(t.dtype.type(0), None, self.loc)

    def zeros_like(self, atom, t):
        """Zeros shaped as `atom`, of its type `t` (a number, a sequence, a tuple)."""
        match t:
            case Scalar():
                return self.zero(t)
            case Seq(elem, _):
                return self.prim("map", self.lam(1, lambda b, x: b.zeros_like(x, elem)), atom)
            case Tuple(elems):
                parts = [self.zeros_like(self.field(atom, k), e) for k, e in enumerate(elems)]
                return self.prim("tuple", *parts)
        raise TypeError(f"no zeros of {t!r}")

    def add(self, a, b, t):
        """a + b for values of type `t`: numbers, elementwise for sequences and tuples."""
        match t:
            case Scalar():
                return self.prim("op_add", a, b)
            case Seq(elem, _):
                return self.prim("map", self.lam(2, lambda b_, x, y: b_.add(x, y, elem)), a, b)
            case Tuple(elems):
                return self.prim("tuple", *(self.add(self.field(a, k), self.field(b, k), e)
                                            for k, e in enumerate(elems)))
        raise TypeError(f"no sum of {t!r}")

    def total(self, atoms: list, t):
        """The sum of `atoms` (at least one), of type `t`."""
        acc = atoms[0]
        for atom in atoms[1:]:
            acc = self.add(acc, atom, t)
        return acc

    def field(self, atom, k: int):
        return self.prim("index", atom, self.const(k))

    def const(self, value) -> Const:
        return Const(value, None, self.loc)

    def choose(self, pred, a, b, t):
        """`a` if pred else `b`: a select for numbers, a cond otherwise."""
        if isinstance(t, Scalar):
            return self.prim("select", pred, a, b)
        return self.prim("cond", pred, Lambda((), Body((), a), self.loc),
                         Lambda((), Body((), b), self.loc))

    def op(self, name: str) -> Lambda:
        """`lambda a, b: name(a, b)`, the form operators passed as values take."""
        return self.lam(2, lambda b, x, y: b.prim(name, x, y))
