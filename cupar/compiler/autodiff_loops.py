"""Derivatives through tail-recursive loops, reading their states backwards.

A tail-recursive function F is a loop: a state (its arguments) goes through a step (the body
up to a tail call `F(next...)`) until a branch returns a value. Its derivative runs the loop
backwards: the cotangent of the value goes to the last state, then through the adjoint of each
step to the state before. Arguments every tail call passes on unchanged (a lifted def's
captures, weights) are invariant; the others vary.

Where some varying part of the state is an array (a recurrence over a batch), the states are
recorded: `iterate` runs the step n + 1 times from the first state, storing each state's
varying parts in arrays of n + 1 rows (O(n) steps, O(n x state) memory), and the backward loop
reads them in reverse. The record is made in the forward sweep, in place of the loop: its value
is F at the last recorded state, a call that returns at once (`record_early`), so the loop's
steps run once forward, not once for the value and again for the record. `iterate` gives an
empty sequence where the states' shapes change (a loop that halves its array), and the
backward loop then recomputes each state from the first, as loops whose state holds only
numbers always do: no memory, O(n^2) steps, fine for the short loops (Newton iterations,
small fixed counts) that such loops are.

The number of steps n is counted first by a copy of the loop that carries only what its
stopping decisions read (the counter of `for t in range(T)`-like loops: no step's work).

For F this emits, as new functions of the program (all tail-recursive, so they run as loops):
    F_count(state..., c)     the number of steps taken
    F_advance(state..., m)   the state after m steps, a tuple
    F_next(state...)         the state after one step, a tuple (recorded loops)
    vjp_F_step(state..., ct) the adjoint of one step (differentiated like any function)
    vjp_F(state..., ct)      the adjoint of the value at the last state
    F_back(state..., i, ct)  the cotangent taken back from state i to state 0; for recorded
                             loops F_back(states, recorded, state..., i, ct)
A recursive nested def is first lifted to such a function, its captures becoming arguments.
"""

from __future__ import annotations

from .build import Builder
from .dead_values import prune
from .autodiff_recorded import next_state_lets, reading_next_state
from .ir import (Body, Const, FnRef, Function, Lambda, Let, Prim, Var, bound_names, free_vars,
                 substitute)
from .tailcalls import callees
from .types import Scalar, Seq, Tuple


def ref(name: str, loc) -> Const:
    return Const(FnRef(name), None, loc)


class Loops:
    """Helpers made for each loop, shared by every differentiator of one program."""

    def __init__(self, program, names):
        self.program, self.names = program, names
        self.functions: dict[str, Function] = {}  # helpers, added to the derived program
        self.early: dict[str, tuple] = {}  # a loop's result -> its recording (record_early)
        self.made: dict[str, dict] = {}

    def function(self, name: str) -> Function:
        return self.functions.get(name) or self.program.functions[name]

    def rule(self, d, s) -> None:
        """The adjoint of `s.y = call(F, args...)` for a loop F."""
        name, args = self.callee(d, s.args)
        loop = self.function(name)
        wrt = self.wrt(d, loop, args)
        if not wrt:
            return
        self.check_simple(loop, s)
        h, b = self.helpers(d, loop, tuple(wrt)), s.b
        if s.y.name in self.early:
            return self.recorded(s, loop, h, wrt, args, self.early.pop(s.y.name))
        n = b.prim("call", ref(h["count"], b.loc), *args, b.const(0))
        if h["varying"] is not None:
            return self.recorded(s, loop, h, wrt, args, self.record(b, h, args, n))
        last = b.prim("call", ref(h["advance"], b.loc), *args, n)
        state = [b.field(last, k) for k in range(len(loop.params))]
        grads = b.prim("call", ref(h["final"], b.loc), *state, s.ct)
        ct = self.full_state(b, grads, loop, wrt, state)
        first = b.prim("call", ref(h["back"], b.loc), *args, b.prim("op_sub", n, b.const(1)),
                       ct)
        for k in wrt:
            s.adj.add(args[k], b.field(first, k))

    def callee(self, d, call_args) -> tuple:
        """(the loop's name, its arguments) of `call(F, args...)`."""
        fn, *args = call_args
        if isinstance(fn, Var):  # a recursive nested def: lift it, captures as arguments
            name, captured = self.lift(d, fn)
            return name, args + captured
        return fn.value.name, args

    def wrt(self, d, loop: Function, args: list) -> list:
        """The varying parts of the state carry cotangents; an invariant part needs one only
        where its argument is active here (the data a recurrence reads needs none)."""
        varying = varying_parts(loop, tail_structure(loop)[0])
        return [k for k, p in enumerate(loop.params) if d.differentiable(p.type) and
                (k in varying or (isinstance(args[k], Var) and args[k].name in d.active))]

    def record_early(self, d, let, b: Builder):
        """In the forward sweep, for `y = call(F, args...)` of a recorded loop F: record
        the states there, and return the value as F at the last state (a call that returns
        at once), rather than run the loop twice, once for the value and once for the
        record (an LSTM's forward pass then ran twice per gradient). None otherwise."""
        value = let.value
        if not (isinstance(value, Prim) and value.name == "call"):
            return None
        fn = value.args[0]
        if isinstance(fn, Var) and fn.name not in d.lambdas or isinstance(fn, Const) and (
                not isinstance(fn.value, FnRef) or fn.value.name in d.ignore):
            return None
        name, args = self.callee(d, value.args)
        loop = self.function(name)
        wrt = self.wrt(d, loop, args)
        if not wrt or loop.name not in callees(loop.body):
            return None
        h = self.helpers(d, loop, tuple(wrt))
        if h["varying"] is None:
            return None
        n = b.prim("call", ref(h["count"], b.loc), *args, b.const(0))
        self.early[let.var.name] = recording = self.record(b, h, args, n)
        last = recording[3]
        return Prim("call", (ref(name, let.loc), *(b.field(last, k)
                                                   for k in range(len(loop.params)))),
                    let.loc)

    def record(self, b: Builder, h: dict, args: list, n) -> tuple:
        """(n, the tape of states, whether it is stored, the last state)."""
        varying = h["varying"]
        m = b.prim("op_add", n, b.const(1))

        def step(ib, x):
            full = merged(ib, unpacked(ib, x, len(varying)), varying, args)
            after = ib.prim("call", ref(h["next"], ib.loc), *full)
            return packed(ib, [ib.field(after, k) for k in varying])
        first = packed(b, [args[k] for k in varying])
        tape = b.prim("iterate", b.lam(1, step, "state"), first, m)
        stored = b.prim("cmp_eq", b.prim("len", tape), m)
        return n, tape, stored, self.state_at(b, h, tape, stored, args, n, varying)

    def recorded(self, s, loop: Function, h: dict, wrt: list, args: list, recording) -> None:
        """The adjoint through the recorded states (see the module's docstring)."""
        b = s.b
        n, tape, stored, last = recording
        state = [b.field(last, k) for k in range(len(loop.params))]
        grads = b.prim("call", ref(h["final"], b.loc), *state, s.ct)
        ct = self.full_state(b, grads, loop, wrt, state)
        start = b.prim("call", ref(h["back"], b.loc), tape, stored, *args,
                       b.prim("op_sub", n, b.const(1)), ct)
        for k in wrt:
            s.adj.add(args[k], b.field(start, k))

    @staticmethod
    def state_at(b: Builder, h: dict, tape, stored, params, i, varying):
        """State i as a tuple: read from the record, or recomputed where it is empty."""
        def read(ib):
            row = ib.prim("index", tape, i)
            return ib.prim("tuple", *merged(ib, unpacked(ib, row, len(varying)), varying,
                                            params))

        def again(ib):
            return ib.prim("call", ref(h["advance"], ib.loc), *params, i)
        return b.prim("cond", stored, branch(b, read), branch(b, again))

    def check_simple(self, loop: Function, s) -> None:
        """Only loops that call themselves: a cycle through several functions is refused."""
        from .tailcalls import callees, reaches
        graph = {n: callees(f.body) for n, f in {**self.program.functions,
                                                  **self.functions}.items()}
        others = [c for c in graph.get(loop.name, ()) if c != loop.name and
                  reaches(graph, c, loop.name)]
        if others:
            s.fail(f"`{loop.name}` and `{others[0]}` call each other, and only loops of one "
                   "function that calls itself have a gradient yet",
                   "merge the mutually recursive functions into one")

    def full_state(self, b: Builder, grads, loop: Function, wrt: tuple, state: list):
        """A cotangent for every part of the state: the gradients, zeros elsewhere."""
        parts = []
        for k, p in enumerate(loop.params):
            parts.append(b.field(grads, wrt.index(k)) if k in wrt else
                         b.zeros_like(state[k], p.type))
        return b.prim("tuple", *parts)

    # -- the helper functions -----------------------------------------------------------
    def helpers(self, d, loop: Function, wrt: tuple) -> dict:
        if (loop.name, wrt) in self.made:
            return self.made[loop.name, wrt]
        fresh = {k: self.names.fresh(f"{loop.name}_{k}") for k in
                 ("count", "advance", "back", "final", "step", "next")}
        self.made[loop.name, wrt] = fresh
        calls, decisions = tail_structure(loop)
        fresh["varying"] = recordable(loop, calls)
        self.add(self.counting(loop, fresh["count"], counted(loop, calls, decisions)))
        self.add(self.advancing(loop, fresh["advance"]))
        nexts: set[str] = set()
        step = self.stepping(loop, fresh["step"], nexts)
        derived = d.sub(ignore=()).derive(step, wrt, fresh["step"])
        fresh["known"] = []
        if fresh["varying"] is not None:
            derived = self.reading_record(loop, step, derived, nexts, fresh)
        self.add(derived)
        self.add(d.sub(ignore={loop.name}).derive(loop, wrt, fresh["final"]))
        if fresh["varying"] is None:
            self.add(self.going_back(loop, fresh, wrt))
        else:
            self.add(self.stepping(loop, fresh["next"]))
            self.add(self.going_back_recorded(loop, fresh, wrt))
        return fresh

    def add(self, fn: Function) -> None:
        self.functions[fn.name] = fn

    def fresh_params(self, loop: Function) -> tuple:
        return tuple(Var(self.names.fresh(p.name), p.type, p.loc) for p in loop.params)

    def renamed_body(self, loop: Function, params: tuple) -> Body:
        copy = self.names.renamed(Lambda(loop.params, loop.body, loop.loc))
        return substitute(copy.body, {p.name: q for p, q in zip(copy.params, params)})

    def counting(self, loop: Function, name: str, needed: set) -> Function:
        """F_count: the loop carrying on only the parts of the state in `needed` (the others
        passed unchanged, their computation pruned): those its stopping decisions read."""
        params = self.fresh_params(loop)
        c = Var(self.names.fresh("steps"), None, loop.loc)
        body = self.renamed_body(loop, params)

        def on_call(b, args):
            args = [a if k in needed else params[k] for k, a in enumerate(args)]
            return b.prim("call", ref(name, b.loc), *args, b.prim("op_add", c, b.const(1)))
        body = leaves(body, loop.name, on_call, lambda b, atom: c, self.names, None, loop.loc)
        return Function(name, params + (c,), prune(body), loop.loc)

    def advancing(self, loop: Function, name: str) -> Function:
        params = self.fresh_params(loop)
        m = Var(self.names.fresh("steps"), None, loop.loc)
        b = Builder(self.names, loop.loc)
        here = b.prim("tuple", *params)
        body = self.renamed_body(loop, params)

        def on_call(ib, args):
            return ib.prim("call", ref(name, ib.loc), *args, ib.prim("op_sub", m, ib.const(1)))
        body = leaves(body, loop.name, on_call, lambda ib, atom: here, self.names, None,
                      loop.loc)
        stop = b.prim("cmp_le", m, b.const(0))
        out = b.prim("cond", stop, Lambda((), Body((), here), loop.loc),
                     Lambda((), body, loop.loc))
        return Function(name, params + (m,), b.body(out), loop.loc)

    def stepping(self, loop: Function, name: str, nexts: set | None = None) -> Function:
        """The body with every tail call `F(next...)` returning the tuple `next` (the next
        state; its name added to `nexts`) and every returned value replaced by the state
        itself (never reached while the loop goes on). Typed, as the differentiator needs."""
        params = self.fresh_params(loop)
        state = Tuple(tuple(p.type for p in params))
        body = self.renamed_body(loop, params)

        def typed_tuple(b, args, tail=False):
            var = Var(self.names.fresh("next"), state, b.loc)
            b.lets.append(Let(var, Prim("tuple", tuple(args), b.loc), b.loc))
            if tail and nexts is not None:
                nexts.add(var.name)
            return var
        body = leaves(body, loop.name, lambda b, args: typed_tuple(b, args, True),
                      lambda b, atom: typed_tuple(b, params), self.names, state, loop.loc)
        return Function(name, params, body, loop.loc, state)

    def reading_record(self, loop: Function, step: Function, derived: Function,
                       nexts: set, fresh: dict) -> Function:
        """The derived step reading the next state's parts it would recompute from the
        record (autodiff_recorded.py); `fresh["known"]` lists them."""
        roots = next_state_lets(step, nexts, fresh["varying"])
        lets = {}
        for name in bound_names(derived.body):  # the derivative's copies of those lets
            origin = next((n for n in self.names.copies(name) if n in roots), None)
            if origin is not None:
                lets[name] = roots[origin]
        if not lets:
            return derived
        fresh["known"] = sorted(set(lets.values()))
        return reading_next_state(derived, lets, fresh["known"], len(loop.params), self.names,
                                  [p.type for p in loop.params])

    def going_back(self, loop: Function, fresh: dict, wrt: tuple) -> Function:
        params = self.fresh_params(loop)
        i = Var(self.names.fresh("step"), None, loop.loc)
        ct = Var(self.names.fresh("ct"), None, loop.loc)
        b = Builder(self.names, loop.loc)
        more = b.nested()
        at = more.prim("call", ref(fresh["advance"], b.loc), *params, i)
        state = [more.field(at, k) for k in range(len(params))]
        grads = more.prim("call", ref(fresh["step"], b.loc), *state, ct)
        before = self.full_state(more, grads, loop, wrt, state)
        earlier = more.prim("op_sub", i, more.const(1))
        back = more.prim("call", ref(fresh["back"], b.loc), *params, earlier, before)
        done = b.prim("cmp_lt", i, b.const(0))
        out = b.prim("cond", done, Lambda((), Body((), ct), loop.loc),
                     Lambda((), more.body(back), loop.loc))
        return Function(fresh["back"], params + (i, ct), b.body(out), loop.loc)

    def going_back_recorded(self, loop: Function, fresh: dict, wrt: tuple) -> Function:
        params = self.fresh_params(loop)
        tape, stored, i, ct = (Var(self.names.fresh(n), None, loop.loc)
                               for n in ("states", "recorded", "step", "ct"))
        b = Builder(self.names, loop.loc)
        more = b.nested()
        at = self.state_at(more, fresh, tape, stored, params, i, fresh["varying"])
        state = [more.field(at, k) for k in range(len(params))]
        later = more.prim("op_add", i, more.const(1))
        if fresh["known"]:  # state i + 1: read, or recomputed where nothing was recorded
            after = self.state_at(more, fresh, tape, stored, params, later, fresh["varying"])
            state += [more.field(after, k) for k in fresh["known"]]
        grads = more.prim("call", ref(fresh["step"], b.loc), *state, ct)
        before = self.full_state(more, grads, loop, wrt, state)
        earlier = more.prim("op_sub", i, more.const(1))
        back = more.prim("call", ref(fresh["back"], b.loc), tape, stored, *params, earlier,
                         before)
        done = b.prim("cmp_lt", i, b.const(0))
        out = b.prim("cond", done, Lambda((), Body((), ct), loop.loc),
                     Lambda((), more.body(back), loop.loc))
        return Function(fresh["back"], (tape, stored, *params, i, ct), b.body(out), loop.loc)

    # -- recursive nested defs ------------------------------------------------------------
    def lift(self, d, fn: Var):
        """A recursive local function as a program function taking its captures as extra
        arguments; returns its name and the captured atoms."""
        lam = d.lambdas[fn.name]
        captured = sorted(free_vars(lam) - {fn.name})
        name = f"lifted_{fn.name}"
        if name not in self.functions:
            extra = tuple(Var(c, d.types[c], lam.loc) for c in captured)
            body = self_calls(lam.body, fn.name, name, extra)
            params = lam.params + extra
            self.add(Function(name, params, body, lam.loc, d.result_type(lam)))
        return name, [Var(c, d.types[c], lam.loc) for c in captured]


def self_calls(body: Body, local: str, name: str, extra: tuple) -> Body:
    """`body` with calls of the local function `local` made calls of `name` with `extra`."""
    lets = []
    for let in body.lets:
        value = let.value
        if isinstance(value, Prim):
            args = tuple(Lambda(a.params, self_calls(a.body, local, name, extra), a.loc)
                         if isinstance(a, Lambda) else a for a in value.args)
            if value.name == "call" and isinstance(args[0], Var) and args[0].name == local:
                args = (Const(FnRef(name), None, value.loc), *args[1:], *extra)
            value = Prim(value.name, args, value.loc)
        lets.append(Let(let.var, value, let.loc))
    return Body(tuple(lets), body.result)


def leaves(body: Body, loop: str, on_call, on_done, names, typed, loc) -> Body:
    """`body` with its tail calls of `loop` replaced by `on_call(builder, args)` and its
    returned values by `on_done(builder, atom)`; conds in tail position are followed into.
    `typed`: the new result type, given to the conds on the way (None: left untyped)."""
    last = body.lets[-1] if body.lets else None
    if last is not None and body.result == last.var and isinstance(last.value, Prim):
        value = last.value
        fn = value.args[0] if value.args else None
        if value.name == "call" and isinstance(fn, Const) and fn.value == FnRef(loop):
            b = Builder(names, last.loc)
            result = on_call(b, value.args[1:])
            return Body(body.lets[:-1] + tuple(b.lets), result)
        if value.name == "cond":
            pred, *branches = value.args
            new = [Lambda(br.params, leaves(br.body, loop, on_call, on_done, names, typed,
                                            last.loc), br.loc) for br in branches]
            var = Var(last.var.name, typed, last.var.loc)
            return Body(body.lets[:-1] + (Let(var, Prim("cond", (pred, *new), value.loc),
                                              last.loc),), var)
    b = Builder(names, last.loc if last is not None else loc)
    result = on_done(b, body.result)
    return Body(body.lets + tuple(b.lets), result)


# -- the shape of a loop --------------------------------------------------------------------

def tail_structure(loop: Function):
    """The loop's tail calls, as (arguments, lets in scope), and its stopping decisions (the
    predicates of the conds in tail position), as (predicate, lets in scope)."""
    calls, decisions = [], []

    def visit(body: Body, scope: dict):
        scope = {**scope, **{let.var.name: let.value for let in body.lets}}
        last = body.lets[-1] if body.lets else None
        if last is None or body.result != last.var or not isinstance(last.value, Prim):
            return
        value = last.value
        fn = value.args[0] if value.args else None
        if value.name == "call" and isinstance(fn, Const) and fn.value == FnRef(loop.name):
            calls.append((value.args[1:], scope))
        elif value.name == "cond":
            decisions.append((value.args[0], scope))
            for branch_ in value.args[1:]:
                visit(branch_.body, scope)
    visit(loop.body, {})
    return calls, decisions


def reads(atom, scope: dict, params: list) -> set:
    """The indices of the parameters `atom` is computed from."""
    names = {p.name: k for k, p in enumerate(params)}
    todo, seen, found = list(free_vars(atom) if not isinstance(atom, Var) else {atom.name}), \
        set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in names:
            found.add(names[name])
        elif name in scope:
            value = scope[name]
            todo += [value.name] if isinstance(value, Var) else list(free_vars(value))
    return found


def counted(loop: Function, calls: list, decisions: list) -> set:
    """The parts of the state the stopping decisions read, directly or through the parts
    the tail calls pass on."""
    params = list(loop.params)
    needed = set().union(*(reads(p, scope, params) for p, scope in decisions))
    while True:
        more = set(needed)
        for args, scope in calls:
            for k in needed:
                more |= reads(args[k], scope, params)
        if more == needed:
            return needed
        needed = more


def varying_parts(loop: Function, calls: list) -> list:
    """The indices of the parameters some tail call passes a new value."""
    return [k for k, p in enumerate(loop.params)
            if not all(isinstance(args[k], Var) and args[k].name == p.name
                       for args, _ in calls)]


def recordable(loop: Function, calls: list) -> list | None:
    """The indices of the varying parts of the state where the states are worth recording
    (some varying part is an array; all are numbers or arrays of numbers); else None."""
    varying = varying_parts(loop, calls)
    types = [loop.params[k].type for k in varying]
    if not any(isinstance(t, Seq) for t in types):
        return None
    for t in types:
        while isinstance(t, Seq):
            t = t.elem
        if not isinstance(t, Scalar):
            return None
    return varying


def packed(b: Builder, parts: list):
    return parts[0] if len(parts) == 1 else b.prim("tuple", *parts)


def unpacked(b: Builder, atom, n: int) -> list:
    return [atom] if n == 1 else [b.field(atom, j) for j in range(n)]


def merged(b: Builder, parts: list, varying: list, full: list) -> list:
    """The whole state: `parts` at the varying positions, `full`'s atoms elsewhere."""
    out = list(full)
    for k, part in zip(varying, parts):
        out[k] = part
    return out


def branch(b: Builder, build) -> Lambda:
    inner = b.nested()
    return Lambda((), inner.body(build(inner)), b.loc)
