"""Pass `resolve_globals`: give every free name of every reached function its meaning.

Precondition: the Program holds the parsed entry function; `program.sources[name]` is a
handle with `.lookup(name)` (closure variables, then module globals; `MISSING` if absent).
Postcondition: no free names remain. Calls of prelude functions are `Prim(name, args)` (arity
checked); numbers are `Const`s; @parallel functions are `Const(FnRef(name))` and are added to
the Program (parsed, resolved) under a unique name; a prelude function used as a value (e.g.
`reduce(op_add, xs, 0)`) becomes a lambda calling it. Anything else is an error at its use.
"""

from __future__ import annotations

import builtins
import difflib
import itertools
import math

import numpy as np

from ..errors import CuparNameError, CuparTypeError, Loc, message
from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var, bound_names
from .primitives import PRIMITIVES
from .types import DTYPES

MISSING = object()
INTERNAL = {"cond", "call", "tuple", "index", "unpack"}
_ALIAS_SOURCES = {
    "sqrt": (np.sqrt, math.sqrt), "exp": (np.exp, math.exp), "log": (np.log, math.log),
    "tanh": (np.tanh, math.tanh), "sin": (np.sin, math.sin), "cos": (np.cos, math.cos),
    "floor": (np.floor,), "ceil": (np.ceil,), "abs": (np.abs, builtins.abs),
    "maximum": (np.maximum,), "minimum": (np.minimum,), "where": (np.where,),
    "pow": (np.power, builtins.pow), "float32": (np.float32,), "float64": (np.float64,),
    "int32": (np.int32,), "int64": (np.int64,), "py_int": (builtins.int,),
    "py_float": (builtins.float,), "py_bool": (builtins.bool,),
    **{name: (getattr(builtins, name),) for name in
       ("min", "max", "sum", "len", "range", "zip", "map", "filter", "any", "all",
        "enumerate")},
}
ALIASES = {obj: name for name, objs in _ALIAS_SOURCES.items() for obj in objs}
BUILTIN_NAMES = {"int": "py_int", "float": "py_float", "bool": "py_bool"}


def prim_of(obj) -> str | None:
    """The primitive an object stands for: a prelude function, or a NumPy/math/builtin twin."""
    for prim in PRIMITIVES.values():
        if prim.ref is obj and prim.name not in INTERNAL:
            return prim.name
    try:
        return ALIASES.get(obj)
    except TypeError:  # unhashable
        return None


def is_number(obj) -> bool:
    if isinstance(obj, (bool, int, float)):
        return True
    return isinstance(obj, np.generic) and obj.dtype.name in DTYPES


def resolve_globals(program: Program) -> Program:
    functions, sources = dict(program.functions), dict(program.sources)
    names: dict[int, str] = {id(h): n for n, h in sources.items()}
    queue = list(functions)

    def register(handle) -> str:
        key = id(handle)
        if key not in names:
            name = handle.name
            while name in functions:
                name += "_"
            names[key] = name
            functions[name] = handle.parsed
            sources[name] = handle
            queue.append(name)
        return names[key]

    done, deps = set(), []
    while queue:
        name = queue.pop()
        if name in done:
            continue
        done.add(name)
        functions[name] = Resolver(sources[name], register, deps).function(functions[name])
    return Program(functions, program.entry, program.arg_types, sources, tuple(deps))


class Resolver:
    def __init__(self, handle, register, deps: list):
        self.handle, self.register, self.deps = handle, register, deps
        self.etas = itertools.count()  # names of eta-expanded primitives, unique per function

    def function(self, fn: Function) -> Function:
        bound = frozenset(p.name for p in fn.params)
        self.taken = set(bound) | bound_names(fn.body)  # eta names must not clash with these
        return Function(fn.name, fn.params, self.body(fn.body, bound), fn.loc)

    def body(self, body: Body, bound: frozenset) -> Body:
        lets = []
        for let in body.lets:
            inner = bound | {let.var.name}  # a nested def sees itself
            value = self.value(let.value, inner if isinstance(let.value, Lambda) else bound)
            lets.append(Let(let.var, value, let.loc))
            bound = inner
        result = self.atom(body.result, bound)
        if isinstance(result, Lambda):
            text, hint = message("returns_function")
            raise CuparTypeError(text, result.loc, hint)
        return Body(tuple(lets), result)

    def value(self, value, bound: frozenset):
        match value:
            case Lambda(params, body, loc):
                return Lambda(params, self.body(body, bound | {p.name for p in params}), loc)
            case Prim("call", (Var(name) as fn, *args)) if name not in bound:
                return self.global_call(fn, [self.atom(a, bound) for a in args], value.loc)
            case Prim(name, args, loc):
                return Prim(name, tuple(self.atom(a, bound) for a in args), loc)
        return self.atom(value, bound)

    def atom(self, atom, bound: frozenset):
        match atom:
            case Lambda():
                return self.value(atom, bound)
            case Var(name) if name not in bound:
                return self.global_value(atom)
        return atom

    def lookup(self, var: Var):
        name = var.name
        base, *attrs = name.split(".")
        obj = self.handle.lookup(base)
        self.deps.append((self.handle, base, obj))  # a new value later means recompiling
        if obj is MISSING and not attrs:
            if name in PRIMITIVES and name not in INTERNAL:
                return PRIMITIVES[name].ref
            if name in BUILTIN_NAMES:
                return PRIMITIVES[BUILTIN_NAMES[name]].ref
        if obj is MISSING:
            close = difflib.get_close_matches(base, [p for p in PRIMITIVES if p not in INTERNAL])
            hint = f"did you mean `{close[0]}`?" if close else message("unknown_name",
                                                                        what=base)[1]
            raise CuparNameError(message("unknown_name", what=base)[0], var.loc, hint)
        for k, attr in enumerate(attrs):
            if not hasattr(obj, attr):
                raise no_attribute(".".join([base, *attrs[:k + 1]]), obj, var.loc)
            obj = getattr(obj, attr)
        return obj

    def global_call(self, fn: Var, args: list, loc: Loc):
        obj = self.lookup(fn)
        prim = prim_of(obj)
        if prim is not None:
            check_arity(prim, len(args), loc)
            return Prim(prim, tuple(args), loc)
        source = getattr(obj, "cupar_source", None)
        if source is not None:
            return Prim("call", (Const(FnRef(self.register(source)), loc=fn.loc), *args), loc)
        raise self.not_usable(fn, obj, call=True)

    def global_value(self, var: Var):
        obj = self.lookup(var)
        if is_number(obj):
            return Const(obj, loc=var.loc)
        source = getattr(obj, "cupar_source", None)
        if source is not None:
            return Const(FnRef(self.register(source)), loc=var.loc)
        prim = prim_of(obj)
        if prim is not None:
            return eta_expand(prim, var.loc, self.fresh_eta())
        raise self.not_usable(var, obj, call=False)

    def fresh_eta(self) -> int:
        """A number n such that `a0_n`, `a1_n`, ... and `r_n` name nothing of the function
        (the front end's renaming of shadowed names uses the same `_n` suffixes)."""
        while True:
            n = next(self.etas)
            names = {f"a{k}_{n}" for k in range(8)} | {f"r_{n}"}
            if not names & self.taken:
                self.taken |= names
                return n

    def not_usable(self, var: Var, obj, call: bool):
        if callable(obj) and not isinstance(obj, type):
            text, hint = message("plain_function", what=var.name)
            return CuparTypeError(text, var.loc, hint)
        kind = type(obj).__name__
        if isinstance(obj, np.ndarray):
            kind = "NumPy array"
        text, hint = message("bad_global", what=var.name, kind=kind)
        return CuparTypeError(text, var.loc, hint)


def check_arity(prim: str, n: int, loc: Loc) -> None:
    least, most = PRIMITIVES[prim].arity
    if n < least or (most is not None and n > most):
        if most is None:
            wanted = f"at least {least}"
        elif least == most:
            wanted = str(least)
        else:
            wanted = f"{least} to {most}"
        given = f"{n} {'was' if n == 1 else 'were'} given"
        raise CuparTypeError(f"{prim} takes {wanted} arguments, but {given}", loc,
                             f"signature: {prim} : {PRIMITIVES[prim].sig}")


def no_attribute(name: str, obj, loc: Loc) -> CuparNameError:
    """`module.attr` that does not exist, with the closest existing name as the hint."""
    text, hint = message("no_attribute", what=name)
    prefix, attr = name.rsplit(".", 1)
    close = difflib.get_close_matches(attr, [a for a in dir(obj) if not a.startswith("_")])
    if close:
        hint = f"did you mean `{prefix}.{close[0]}`?"
    return CuparNameError(text, loc, hint)


def eta_expand(prim: str, loc: Loc, n: int) -> Lambda:
    """`op_add` used as a value becomes `lambda a0_n, a1_n: op_add(a0_n, a1_n)`."""
    least, most = PRIMITIVES[prim].arity
    if least != most:
        raise CuparTypeError(f"{prim} takes a varying number of arguments and cannot be passed "
                             "as a value", loc, f"wrap it: lambda x, y: {prim}(x, y)")
    params = tuple(Var(f"a{k}_{n}", loc=loc) for k in range(least))
    result = Var(f"r_{n}", loc=loc)
    body = Body((Let(result, Prim(prim, params, loc), loc),), result)
    return Lambda(params, body, loc)
