"""The IR verifier, run after every pass.

Checks: every name is bound exactly once in its function and before it is used (a nested def
may use its own name); primitive names exist and get an allowed number of arguments; lambdas
appear only as let values and primitive arguments; every let carries a Loc. With `typed`,
every Var and Const has a type and no type variable remains. A failure is an InternalError
naming the pass that broke the invariant: it is always a cupar bug, never a user error.
"""

from __future__ import annotations

from ..errors import InternalError
from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var
from .primitives import PRIMITIVES
from .types import Fn, Seq, Tuple, TVar


def verify(program: Program, after: str, typed: bool, resolved: bool = True) -> None:
    if program.entry not in program.functions:
        raise InternalError(f"after {after}: entry `{program.entry}` is missing")
    for fn in program.functions.values():
        Verifier(fn, program, after, typed, resolved).run()


class Verifier:
    def __init__(self, fn: Function, program: Program, after: str, typed: bool, resolved: bool):
        self.fn, self.program, self.after = fn, program, after
        self.typed, self.resolved = typed, resolved
        self.seen: set[str] = set()

    def fail(self, what: str):
        raise InternalError(f"after pass `{self.after}`, in `{self.fn.name}`: {what}",
                            self.fn.loc)

    def run(self) -> None:
        scope = frozenset(self.bind(p) for p in self.fn.params)
        self.body(self.fn.body, scope)

    def bind(self, var: Var) -> str:
        if var.name in self.seen:
            self.fail(f"`{var.name}` is bound twice")
        self.seen.add(var.name)
        self.check_type(var)
        return var.name

    def check_type(self, node) -> None:
        if self.typed and node.type is None:
            self.fail(f"{node!r} has no type")
        if self.typed and has_type_var(node.type):
            self.fail(f"{node!r} has an unsolved type")

    def body(self, body: Body, scope: frozenset) -> None:
        for let in body.lets:
            if let.loc is None:
                self.fail(f"let `{let.var.name}` has no location")
            name = self.bind(let.var)
            inner = scope | {name} if isinstance(let.value, Lambda) else scope
            self.value(let.value, inner)
            scope = scope | {name}
        self.atom(body.result, scope)

    def value(self, value, scope: frozenset) -> None:
        match value:
            case Lambda(params, body):
                self.body(body, scope | {self.bind(p) for p in params})
            case Prim(name, args):
                self.prim(name, args, scope)
            case _:
                self.atom(value, scope)

    def prim(self, name: str, args: tuple, scope: frozenset) -> None:
        if name not in PRIMITIVES:
            self.fail(f"unknown primitive `{name}`")
        least, most = PRIMITIVES[name].arity
        if self.resolved and (len(args) < least or (most is not None and len(args) > most)):
            self.fail(f"`{name}` has {len(args)} arguments")
        for arg in args:
            if isinstance(arg, Lambda):
                self.value(arg, scope)
            else:
                self.atom(arg, scope)

    def atom(self, atom, scope: frozenset) -> None:
        match atom:
            case Var(name):
                if name not in scope and self.resolved:
                    self.fail(f"`{name}` is used but not bound")
                self.check_type(atom)
            case Const(value=FnRef(name)):
                if name not in self.program.functions:
                    self.fail(f"call of unknown function `{name}`")
            case Const():
                self.check_type(atom)
            case _:
                self.fail(f"{atom!r} is not an atom")


def has_type_var(t) -> bool:
    match t:
        case TVar():
            return True
        case Seq(elem, _):
            return has_type_var(elem)
        case Tuple(elems):
            return any(has_type_var(e) for e in elems)
        case Fn(params, result):
            return any(has_type_var(p) for p in params) or has_type_var(result)
    return False


__all__ = ["verify", "Let"]
