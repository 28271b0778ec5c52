"""The cupar IR: a handful of frozen dataclasses in flat single-assignment form.

A `Function` has parameters and a `Body`: a tuple of `Let`s followed by a result atom. A `Let`
binds one fresh `Var` to a `Prim` call, a `Lambda`, or an atom. Primitive arguments are atoms
(`Var`, `Const`) or `Lambda`s, never nested calls, so every intermediate value has a name.
Conditionals are the primitive `cond(pred, lambda: then, lambda: else)`: both branches stay
lambdas, so no pass can hoist work out of a branch by accident. Calls of other functions are the
primitive `call(fn, *args)`, where `fn` is a local Var or a Const holding a @parallel function.

Invariants (checked by `verify`): every Var is bound once and before use; after `infer_types`
every Var and Const carries a type and no type variable is left. Every node has a `Loc`;
`loc` takes no part in equality, so structurally equal IR compares equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Loc
from .types import Type


@dataclass(frozen=True)
class Var:
    name: str
    type: Type | None = None
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Const:
    value: Any
    type: Type | None = None
    loc: Loc | None = field(default=None, compare=False, repr=False)


Atom = Var | Const


@dataclass(frozen=True)
class Lambda:
    params: tuple[Var, ...]
    body: Body
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Prim:
    name: str
    args: tuple  # of Atom | Lambda
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Let:
    var: Var
    value: Prim | Lambda | Var | Const
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Body:
    lets: tuple[Let, ...]
    result: Atom


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Var, ...]
    body: Body
    loc: Loc | None = field(default=None, compare=False, repr=False)
    result_type: Type | None = None


def walk_bodies(body: Body):
    """Yield `body` and every body nested in it (lambda bodies), outermost first."""
    yield body
    for let in body.lets:
        for value in (let.value, *getattr(let.value, "args", ())):
            if isinstance(value, Lambda):
                yield from walk_bodies(value.body)


def map_bodies(fn, body: Body) -> Body:
    """Apply `fn: Body -> Body` to every body, innermost first, rebuilding the tree."""
    return fn(Body(tuple(_map_let(fn, let) for let in body.lets), body.result))


def _map_let(fn, let: Let) -> Let:
    value = let.value
    if isinstance(value, Lambda):
        value = Lambda(value.params, map_bodies(fn, value.body), value.loc)
    elif isinstance(value, Prim):
        args = tuple(Lambda(a.params, map_bodies(fn, a.body), a.loc) if isinstance(a, Lambda)
                     else a for a in value.args)
        value = Prim(value.name, args, value.loc)
    return Let(let.var, value, let.loc)


def free_vars(node, bound: frozenset = frozenset()) -> set[str]:
    """Names a Body or Lambda uses without binding them (closure captures or globals)."""
    match node:
        case Var(name):
            return set() if name in bound else {name}
        case Const():
            return set()
        case Lambda(params, body):
            return free_vars(body, bound | {p.name for p in params})
        case Prim(_, args):
            return set().union(*(free_vars(a, bound) for a in args))
        case Body(lets, result):
            free: set[str] = set()
            for let in lets:
                free |= free_vars(let.value, bound)
                bound = bound | {let.var.name}
            return free | free_vars(result, bound)
    raise TypeError(f"not an IR node: {node!r}")


@dataclass(frozen=True)
class FnRef:
    """The value of a Const naming a function of the Program (a @parallel function)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Program:
    """The functions reachable from `entry`, by unique name. Before `resolve_globals` it holds
    the entry alone; `sources` maps each name to the handle its globals are read through;
    `arg_types` are the types of the call being compiled."""

    functions: dict
    entry: str
    arg_types: tuple = ()
    sources: dict = field(default_factory=dict, compare=False, repr=False)
    deps: tuple = field(default=(), compare=False, repr=False)  # (handle, name, value) read
    # functions `inline_calls` leaves as calls: a spliced derivative's helpers (infer.py)
    kept: frozenset = field(default=frozenset(), compare=False, repr=False)

    def replace_functions(self, functions: dict, entry: str | None = None) -> "Program":
        return Program(functions, entry or self.entry, self.arg_types, self.sources, self.deps,
                       self.kept)

    def is_current(self) -> bool:
        """Whether every global it was compiled against still has the same value. (Asked at
        every warm call: where a handle says which dict it reads a name from (`lookup_place`: a
        module's globals), the name is read there directly, a dictionary look-up rather than
        a method call; a training step's 46 names took 7 us through `lookup`.)"""
        checks = self.__dict__.get("_checks")
        if checks is None:
            checks = direct_checks(self.deps)
            object.__setattr__(self, "_checks", checks)
        places, others = checks
        for where, name, value in places:
            if where.get(name, where) is not value:
                return False
        return all(handle.lookup(name) is value for handle, name, value in others)

    @property
    def main(self) -> Function:
        return self.functions[self.entry]


def direct_checks(deps: tuple) -> tuple:
    """`deps` as (globals dict, name, value) where the handle reads the name from a dict
    that holds it, and the rest as they are, (handle, name, value): `Program.is_current`."""
    places, others = [], []
    for handle, name, value in deps:
        where = getattr(handle, "lookup_place", lambda name: None)(name)
        if isinstance(where, dict) and name in where:
            places.append((where, name, value))
        else:
            others.append((handle, name, value))
    return tuple(places), tuple(others)


def bound_names(node) -> set[str]:
    """Every name a Lambda or Body binds, nested bodies included."""
    names: set[str] = set()
    if isinstance(node, Lambda):
        names |= {p.name for p in node.params}
        node = node.body
    for body in walk_bodies(node):
        for let in body.lets:
            names.add(let.var.name)
            for value in (let.value, *getattr(let.value, "args", ())):
                if isinstance(value, Lambda):
                    names |= {p.name for p in value.params}
    return names


def substitute(node, table: dict):
    """`node` with names replaced: uses by the atom `table[name]` (a Var or Const), binders
    by the name of `table[name]` (which must then be a Var). Types and locations of binders
    stay; that is how inlining renames a body and passes arguments in one step."""
    match node:
        case Var(name):
            new = table.get(name, node)
            if isinstance(new, Var) and new.type is None:  # a renaming: keep the use's type
                return Var(new.name, node.type, node.loc)
            return new
        case Const():
            return node
        case Lambda(params, body, loc):
            return Lambda(tuple(_rebind(p, table) for p in params), substitute(body, table), loc)
        case Prim(name, args, loc):
            return Prim(name, tuple(substitute(a, table) for a in args), loc)
        case Let(var, value, loc):
            return Let(_rebind(var, table), substitute(value, table), loc)
        case Body(lets, result):
            return Body(tuple(substitute(let, table) for let in lets), substitute(result, table))
    raise TypeError(f"substitute: not an IR node: {node!r}")


def _rebind(var: Var, table: dict) -> Var:
    new = table.get(var.name)
    return var if new is None else Var(new.name, var.type, var.loc)


def program_names(functions) -> set[str]:
    """Every name the Functions `functions` bind, parameters included."""
    names: set[str] = set()
    for fn in functions:
        names |= {p.name for p in fn.params} | bound_names(fn.body)
    return names


def fresh_suffix(names, taken: set, counter, form: str = "_{}") -> str:
    """The first suffix `form.format(next(counter))` under which none of `names` is in
    `taken`; the suffixed names are added to `taken`. Every pass that copies code under new
    names takes them this way: the front end renames shadowed names with `_k` suffixes too,
    so a suffix one pass picks blindly can be a name another made (`p_1 is bound twice`)."""
    while True:
        suffix = form.format(next(counter))
        renamed = {n + suffix for n in names}
        if not renamed & taken:
            taken |= renamed
            return suffix
