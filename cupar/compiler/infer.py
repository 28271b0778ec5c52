"""Pass `infer_types`: Hindley-Milner-style inference that also specialises.

Precondition: a resolved Program and the argument types of the call. Postcondition: a Program
of monomorphic functions; every Var and Const carries a type with no variables left.

How: unification over type variables (`TVar`) and length variables (`Dim`), with NEP 50 weak
scalars joining the strong type they meet (types.py). Let-bound functions (nested `def`,
`f = lambda ...`) are polymorphic: each use instantiates them by checking the body at the
use's argument types, the substitution reading of let-polymorphism, which is also what lets
NumPy's promotion rules see concrete types. Each distinct instantiation becomes its own
binding (`f`, `f_1`, ...), and each distinct argument typing of a @parallel function its own
function, so later passes see only monomorphic code. A recursive call typed before its
function has a result gets a type variable, solved by the base case; a recursive call whose
argument types are wider than the current ones (a weak 0 meeting an f32 accumulator) restarts
the function at the joined types.
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from ..errors import CuparTypeError, InternalError, Loc, message
from .ir import (Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var, bound_names,
                 fresh_suffix, map_bodies, program_names, substitute)
from .primitives import PRIMITIVES
from .verify import has_type_var
from .types import (BOOL, WEAK_FLOAT, WEAK_INT, Clash, Fn, Scalar, TVar, Unifier,
                    canonical, format_type, fresh_var, strong)


class Closure:
    """A lambda or nested def as a value during inference: its code, the environment it
    closes over, and its instantiations by argument-type key."""

    def __init__(self, lam: Lambda, env: dict, name: str):
        self.lam, self.env, self.name = lam, env, name
        self.specs: dict = {}  # key -> (typed Lambda, result type, bound name)
        self.active: dict = {}  # key -> result TVar while its body is being checked

    def __repr__(self) -> str:
        return f"function `{self.name}`"


class GlobalFn:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"function `{self.name}`"


class Widen(Exception):
    """A recursive call needs wider parameter types than the instantiation being checked."""

    def __init__(self, target, types):
        self.target, self.types = target, types


def infer_types(program: Program) -> Program:
    inference = Inference(program)
    entry, _ = inference.function(program.entry, program.arg_types, program.main.loc)
    functions = {name: inference.finish(fn) for name, fn in inference.out.items()}
    return Program(functions, entry, program.arg_types, program.sources, program.deps,
                   program.kept | frozenset(inference.kept))


class Inference:
    def __init__(self, program: Program):
        self.source = program.functions
        self.handles, self.entry = program.sources, program.entry
        self.u = Unifier()
        self.out: dict[str, Function] = {}
        self.specs: dict = {}  # (function, key) -> (specialised name, result type)
        self.kept: set[str] = set()  # a spliced derivative's helpers (see `derived`)
        self.active: dict = {}  # function -> (key, specialised name, result TVar)
        self.names = itertools.count(1)
        # names copies must not take: every binder, and every function's name
        self.taken = program_names(program.functions.values())
        self.taken_functions = set(program.functions)

    # -- @parallel functions ----------------------------------------------------------------
    def function(self, name: str, arg_types: tuple, loc: Loc):
        fn = self.source[name]
        handle = self.handles.get(name)
        if getattr(getattr(handle, "request", None), "mode", None) == "vjp" and \
                name != self.entry:
            raise CuparTypeError(f"`{name}` is a pullback: call it from Python", loc,
                                 "inside @parallel functions use cupar.grad or "
                                 "cupar.value_and_grad")
        if len(arg_types) != len(fn.params):
            raise arity_error(name, fn.params, len(arg_types), loc)
        key = self.key(arg_types)
        if (name, key) in self.specs:
            return self.specs[(name, key)]
        derive = getattr(handle, "derived_program", None)
        if derive is not None and name != self.entry:
            return self.derived(name, derive, arg_types, key, loc)
        if name in self.active:
            return self.recursive(name, self.active[name], arg_types)
        while True:
            try:
                return self.instantiate(name, fn, arg_types, key)
            except Widen as w:
                if w.target != name:
                    raise
                arg_types, key = w.types, self.key(w.types)

    def instantiate(self, name: str, fn: Function, arg_types: tuple, key):
        spec = name if not any(n == name for n, _ in self.specs.values()) \
            else name + fresh_suffix({name}, self.taken_functions, self.names)
        result = fresh_var()
        self.active[name] = (key, spec, result, arg_types)
        try:
            params = tuple(Var(p.name, t, p.loc) for p, t in zip(fn.params, arg_types))
            env = {p.name: t for p, t in zip(fn.params, arg_types)}
            body = self.body(fn.body, env)
            self.unify_at(result, self.returned(body.result, env), fn.loc,
                          "every return of a function must have the same type")
        finally:
            del self.active[name]
        self.out[spec] = Function(spec, params, body, fn.loc, result)
        self.specs[(name, key)] = (spec, result)
        self.specs[(name, self.key(arg_types))] = (spec, result)
        return spec, result

    def derived(self, name: str, derive, arg_types: tuple, key, loc: Loc):
        """A call of a derivative (`cupar.grad(f)` called in a @parallel function): the
        derived program for these argument types, made by its own pipeline, spliced in
        under fresh names. `inline_calls` then inlines its entry like any callee, but not the
        helpers its own pipeline kept apart (the adjoint of a loop's step, called from the
        backward loop): inlined into that loop, the GRU classifier's training step took 18.2
        ms instead of its gradient's 13.4 ms."""
        types = tuple(strong(self.u.resolve(t)) for t in arg_types)
        if any(has_type_var(t) for t in types):
            raise CuparTypeError(f"the argument types of `{name}` are not known here", loc,
                                 "call a derivative with arguments of known types")
        program = derive(types)
        base = re.sub(r"\W", "_", name).strip("_")
        table = {old: base + fresh_suffix({base}, self.taken_functions, self.names)
                 for old in program.functions}
        for old, fn in program.functions.items():
            self.out[table[old]] = rename_functions(fn, table)
        self.kept |= {new for old, new in table.items() if old != program.entry}
        spec = (table[program.entry], program.main.result_type)
        self.specs[(name, key)] = spec
        return spec

    def recursive(self, name: str, active, arg_types: tuple):
        key, spec, result, current = active
        joined = self.join_args(current, arg_types)
        if self.key(joined) != key:
            raise Widen(name, joined)
        return spec, result

    def join_args(self, current: tuple, new: tuple) -> tuple:
        joined = []
        for a, b in zip(current, new):
            try:
                joined.append(Unifier().unify(self.u.resolve(a), self.u.resolve(b)))
            except Clash:
                joined.append(a)  # the call site reports the clash when it unifies
        return tuple(joined)

    def key(self, types: tuple):
        return canonical(tuple(t if isinstance(t, (Closure, GlobalFn)) else self.u.resolve(t)
                               for t in types))

    # -- bodies ---------------------------------------------------------------------------
    def body(self, body: Body, env: dict) -> Body:
        lets, defs = [], []
        for let in body.lets:
            if isinstance(let.value, Lambda):
                closure = Closure(let.value, env, let.var.name)
                env[let.var.name] = closure
                defs.append((len(lets), closure, let.loc))
                continue
            value, t = self.expr(let.value, env)
            env[let.var.name] = t
            lets.append(Let(Var(let.var.name, t, let.var.loc), value, let.loc))
        for position, closure, loc in reversed(defs):  # instantiations where the def stood
            specs = {bound: (lam, result) for lam, result, bound, _ in closure.specs.values()}
            lets[position:position] = [
                Let(Var(bound, Fn(tuple(p.type for p in lam.params), result), loc), lam, loc)
                for bound, (lam, result) in specs.items()]
        result = body.result
        return Body(tuple(lets), self.typed_atom(result, env))

    def expr(self, value, env: dict):
        match value:
            case Var() | Const():
                atom = self.typed_atom(value, env)
                return atom, self.type_of(value, env)
            case Prim(name, args, loc):
                return self.prim(name, args, loc, env)
        raise InternalError(f"infer_types: unexpected let value {value!r}")

    def type_of(self, atom, env: dict):
        match atom:
            case Var(name):
                return env[name]
            case Const(value=FnRef(name)):
                return GlobalFn(name)
            case Const(value=value):
                return const_type(value)
        raise InternalError(f"infer_types: not an atom: {atom!r}")

    def returned(self, atom, env: dict):
        t = self.type_of(atom, env)
        if isinstance(t, (Closure, GlobalFn)):
            text, hint = message("returns_function")
            raise CuparTypeError(text, atom.loc, hint)
        return t

    def typed_atom(self, atom, env: dict):
        t = self.type_of(atom, env)
        if isinstance(t, (Closure, GlobalFn)):
            return atom
        return Var(atom.name, t, atom.loc) if isinstance(atom, Var) else \
            Const(atom.value, t, atom.loc)

    def prim(self, name: str, args: tuple, loc: Loc, env: dict):
        values = [Closure(a, env, "lambda") if isinstance(a, Lambda) else self.type_of(a, env)
                  for a in args]
        ctx = RuleContext(self, name, args, loc)
        result = PRIMITIVES[name].rule(ctx, *values)
        typed_args = tuple(self.typed_arg(a, v, ctx.chosen.get(k), env)
                           for k, (a, v) in enumerate(zip(args, values)))
        return Prim(name, typed_args, loc), result

    def typed_arg(self, arg, value, chosen, env: dict):
        if isinstance(value, Closure):
            if chosen is None:
                raise CuparTypeError(f"{value!r} is never called here, so its type is unknown",
                                     arg.loc, "pass it where it is applied to arguments")
            lam, result, bound, params = chosen
            if isinstance(arg, Lambda):
                return lam
            return Var(bound, Fn(tuple(params), result), arg.loc)
        if isinstance(value, GlobalFn):
            return Const(FnRef(chosen[2] if chosen else value.name), None, arg.loc)
        return self.typed_atom(arg, env)

    # -- applying function values ---------------------------------------------------------
    def apply(self, fn, arg_types: tuple, loc: Loc):
        """Type a call of function value `fn`; return (result type, chosen instantiation)."""
        if isinstance(fn, GlobalFn):
            spec, result = self.function(fn.name, arg_types, loc)
            return result, (None, result, spec, arg_types)
        if isinstance(fn, Closure):
            return self.apply_closure(fn, arg_types, loc)
        raise CuparTypeError(f"this value is not a function: it has type {format_type(fn)}",
                             loc, "call only @parallel functions, lambdas and nested defs")

    def apply_closure(self, c: Closure, arg_types: tuple, loc: Loc):
        if len(arg_types) != len(c.lam.params):
            raise arity_error(c.name, c.lam.params, len(arg_types), loc)
        key = self.key(arg_types)
        if key in c.specs:
            return c.specs[key][1], c.specs[key]
        if c.active:
            (active_key, (result, bound, current)), = c.active.items()
            joined = self.join_args(current, arg_types)
            if self.key(joined) != active_key:
                raise Widen(c, joined)
            return result, (None, result, bound, current)
        while True:
            try:
                return self.instantiate_closure(c, arg_types, key)
            except Widen as w:
                if w.target is not c:
                    raise
                arg_types, key = w.types, self.key(w.types)

    def instantiate_closure(self, c: Closure, arg_types: tuple, key):
        first = not c.specs
        lam = c.lam if first else rename_binders(
            c.lam, fresh_suffix(bound_names(c.lam), self.taken, self.names))
        bound = c.name if first else c.name + fresh_suffix({c.name}, self.taken, self.names)
        result = fresh_var()
        c.active = {key: (result, bound, arg_types)}
        try:
            env = dict(c.env)
            env.update({p.name: t for p, t in zip(lam.params, arg_types)})
            body = self.body(lam.body, env)
            self.unify_at(result, self.returned(body.result, env), lam.loc,
                          "every return of a function must have the same type")
        finally:
            c.active = {}
        params = tuple(Var(p.name, t, p.loc) for p, t in zip(lam.params, arg_types))
        spec = (Lambda(params, body, lam.loc), result, bound, arg_types)
        c.specs[key] = spec
        c.specs[self.key(arg_types)] = spec
        return result, spec

    def unify_at(self, a, b, loc: Loc, what: str):
        try:
            return self.u.unify(a, b)
        except Clash as clash:
            raise clash_error(self.u, clash, a, b, loc, what) from None

    # -- the end: resolve every type ------------------------------------------------------
    def finish(self, fn: Function) -> Function:
        resolve = Resolve(self.u)
        return resolve.function(fn)


STRUCTURAL = {"cond", "call", "tuple", "index"}  # emitted by the front end; no signature to show


class RuleContext:
    """What a type rule sees: the primitive, its argument nodes, and the unifier."""

    def __init__(self, inference: Inference, prim: str, args: tuple, loc: Loc):
        self.inference, self.prim, self.args, self.loc = inference, prim, args, loc
        self.chosen: dict[int, tuple] = {}

    def arg_loc(self, k: int | None) -> Loc:
        if k is not None and k < len(self.args) and getattr(self.args[k], "loc", None):
            return self.args[k].loc
        return self.loc

    def resolve(self, t):
        return t if isinstance(t, (Closure, GlobalFn)) else self.inference.u.resolve(t)

    def fresh(self) -> TVar:
        return fresh_var()

    def const(self, k: int):
        arg = self.args[k]
        return arg.value if isinstance(arg, Const) else None

    def unify(self, a, b, k: int | None = None, what: str | None = None):
        what = what or f"the arguments of {self.prim} do not fit together"
        return self.inference.unify_at(a, b, self.arg_loc(k), what)

    def apply(self, fn, arg_types: tuple, k: int):
        result, chosen = self.inference.apply(fn, tuple(arg_types), self.arg_loc(k))
        self.chosen[k] = chosen
        return result

    def error(self, text: str, hint: str | None = None, arg: int | None = None):
        if hint is None and self.prim not in STRUCTURAL:
            hint = f"signature: {self.prim} : {PRIMITIVES[self.prim].sig}"
        raise CuparTypeError(text, self.arg_loc(arg), hint)


class Resolve:
    """Replace every type in a function by its solution; no type variable may remain."""

    def __init__(self, u: Unifier):
        self.u = u

    def type(self, t, loc):
        if t is None:
            return None
        t = self.u.resolve(t)
        if has_type_var(t):
            found = "" if isinstance(t, TVar) else f" (found {format_type(t)})"
            raise CuparTypeError(f"cannot infer a type here{found}", loc,
                                 "a recursive function needs a base case that returns a value")
        return t

    def function(self, fn: Function) -> Function:
        params = tuple(self.var(p) for p in fn.params)
        return Function(fn.name, params, self.body(fn.body), fn.loc,
                        self.type(fn.result_type, fn.loc))

    def var(self, v):
        if isinstance(v, Var):
            return Var(v.name, self.type(v.type, v.loc), v.loc)
        if isinstance(v, Const):
            return Const(v.value, self.type(v.type, v.loc), v.loc)
        return Lambda(tuple(self.var(p) for p in v.params), self.body(v.body), v.loc)

    def body(self, body: Body) -> Body:
        lets = []
        for let in body.lets:
            value = let.value
            if isinstance(value, Prim):
                value = Prim(value.name, tuple(self.var(a) for a in value.args), value.loc)
            else:
                value = self.var(value)
            lets.append(Let(self.var(let.var), value, let.loc))
        return Body(tuple(lets), self.var(body.result))


def const_type(value):
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if type(value) is int:  # np.float64 subclasses float, yet is strong
        return WEAK_INT
    if type(value) is float:
        return WEAK_FLOAT
    return Scalar(np.asarray(value).dtype.name)


def arity_error(name: str, params: tuple, given: int, loc: Loc) -> CuparTypeError:
    names = ", ".join(p.name for p in params)
    who, hint = f"`{name}`", f"call it as {name}({names})"
    if name == "lambda":
        values = f"{given} value{'s' * (given != 1)}"
        who, hint = "this lambda", f"it is called with {values} here: give it one parameter each"
    return CuparTypeError(f"{who} takes {len(params)} argument{'s' * (len(params) != 1)} "
                          f"({names}), but {given} {'was' if given == 1 else 'were'} given",
                          loc, hint)


def clash_error(u: Unifier, clash: Clash, a, b, loc: Loc, what: str) -> CuparTypeError:
    dims: dict = {}
    left, right = format_type(u.resolve(a), dims), format_type(u.resolve(b), dims)
    detail = f"{left} vs {right}"
    inner_l, inner_r = format_type(u.resolve(clash.left), dims), format_type(
        u.resolve(clash.right), dims)
    if (inner_l, inner_r) != (left, right):
        detail += f" ({inner_l} does not match {inner_r})"
    hint = "convert explicitly with float32(...), int32(...), cast_to(...)"
    return CuparTypeError(f"{what}: {detail}", loc, hint)


def rename_binders(lam: Lambda, suffix: str) -> Lambda:
    """A copy of `lam` whose parameters and lets (nested ones too) carry `suffix`, keeping
    names unique when one function is instantiated twice."""
    return substitute(lam, {n: Var(n + suffix) for n in bound_names(lam)})


def rename_functions(fn: Function, table: dict) -> Function:
    """`fn` under its new name from `table`, with the functions it calls renamed alike."""
    def rename(atom):
        if isinstance(atom, Const) and isinstance(atom.value, FnRef) and \
                atom.value.name in table:
            return Const(FnRef(table[atom.value.name]), atom.type, atom.loc)
        return atom

    def body(b: Body) -> Body:
        lets = tuple(Let(let.var, Prim(let.value.name, tuple(map(rename, let.value.args)),
                                       let.value.loc) if isinstance(let.value, Prim)
                         else rename(let.value), let.loc) for let in b.lets)
        return Body(lets, rename(b.result))
    return Function(table[fn.name], fn.params, map_bodies(body, fn.body), fn.loc,
                    fn.result_type)
