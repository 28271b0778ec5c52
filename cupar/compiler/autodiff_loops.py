"""Derivatives through tail-recursive loops, by recomputing their states.

A tail-recursive function F is a loop: a state (its arguments) goes through a step (the body
up to a tail call `F(next...)`) until a branch returns a value. Its derivative runs the loop
backwards: the cotangent of the value goes to the last state, then through the adjoint of each
step to the state before. Each state is recomputed from the first (no tape, memory stays
constant), so n iterations cost O(n^2) steps: fine for the short loops (Newton iterations,
small fixed counts) cupar programs use, slow for long ones.

For F this emits, as new functions of the program (all tail-recursive, so they run as loops):
    F_count(state..., c)     the number of steps taken
    F_advance(state..., m)   the state after m steps, a tuple
    vjp_F_step(state..., ct) the adjoint of one step (differentiated like any function)
    vjp_F(state..., ct)      the adjoint of the value at the last state
    F_back(state..., i, ct)  the cotangent taken back from state i to state 0
A recursive nested def is first lifted to such a function, its captures becoming arguments.
"""

from __future__ import annotations

from .build import Builder
from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Var, free_vars, substitute
from .types import Tuple


def ref(name: str, loc) -> Const:
    return Const(FnRef(name), None, loc)


class Loops:
    """Helpers made for each loop, shared by every differentiator of one program."""

    def __init__(self, program, names):
        self.program, self.names = program, names
        self.functions: dict[str, Function] = {}  # helpers, added to the derived program
        self.made: dict[str, dict] = {}

    def function(self, name: str) -> Function:
        return self.functions.get(name) or self.program.functions[name]

    def rule(self, d, s) -> None:
        """The adjoint of `s.y = call(F, args...)` for a loop F."""
        fn, *args = s.args
        if isinstance(fn, Var):  # a recursive nested def: lift it, captures as arguments
            name, captured = self.lift(d, fn)
            args = args + captured
        else:
            name = fn.value.name
        loop = self.function(name)
        wrt = [k for k, p in enumerate(loop.params) if d.differentiable(p.type)]
        if not wrt:
            return
        self.check_simple(loop, s)
        h, b = self.helpers(d, loop, tuple(wrt)), s.b
        n = b.prim("call", ref(h["count"], b.loc), *args, b.const(0))
        last = b.prim("call", ref(h["advance"], b.loc), *args, n)
        state = [b.field(last, k) for k in range(len(loop.params))]
        grads = b.prim("call", ref(h["final"], b.loc), *state, s.ct)
        ct = self.full_state(b, grads, loop, wrt, state)
        first = b.prim("call", ref(h["back"], b.loc), *args, b.prim("op_sub", n, b.const(1)),
                       ct)
        for k in wrt:
            s.adj.add(args[k], b.field(first, k))

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
        if loop.name in self.made:
            return self.made[loop.name]
        fresh = {k: self.names.fresh(f"{loop.name}_{k}") for k in
                 ("count", "advance", "back", "final", "step")}
        self.made[loop.name] = fresh
        self.add(self.counting(loop, fresh["count"]))
        self.add(self.advancing(loop, fresh["advance"]))
        step = self.stepping(loop, fresh["step"])
        self.add(d.sub(ignore=()).derive(step, wrt, fresh["step"]))
        self.add(d.sub(ignore={loop.name}).derive(loop, wrt, fresh["final"]))
        self.add(self.going_back(loop, fresh, wrt))
        return fresh

    def add(self, fn: Function) -> None:
        self.functions[fn.name] = fn

    def fresh_params(self, loop: Function) -> tuple:
        return tuple(Var(self.names.fresh(p.name), p.type, p.loc) for p in loop.params)

    def renamed_body(self, loop: Function, params: tuple) -> Body:
        copy = self.names.renamed(Lambda(loop.params, loop.body, loop.loc))
        return substitute(copy.body, {p.name: q for p, q in zip(copy.params, params)})

    def counting(self, loop: Function, name: str) -> Function:
        params = self.fresh_params(loop)
        c = Var(self.names.fresh("steps"), None, loop.loc)
        body = self.renamed_body(loop, params)

        def on_call(b, args):
            return b.prim("call", ref(name, b.loc), *args, b.prim("op_add", c, b.const(1)))
        body = leaves(body, loop.name, on_call, lambda b, atom: c, self.names, None, loop.loc)
        return Function(name, params + (c,), body, loop.loc)

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

    def stepping(self, loop: Function, name: str) -> Function:
        """The body with every tail call `F(next...)` returning the tuple `next` (the next
        state) and every returned value replaced by the state itself (never reached while
        the loop goes on). Typed, as the differentiator needs."""
        params = self.fresh_params(loop)
        state = Tuple(tuple(p.type for p in params))
        body = self.renamed_body(loop, params)

        def typed_tuple(b, args):
            var = Var(self.names.fresh("next"), state, b.loc)
            b.lets.append(Let(var, Prim("tuple", tuple(args), b.loc), b.loc))
            return var
        body = leaves(body, loop.name, typed_tuple, lambda b, atom: typed_tuple(b, params),
                      self.names, state, loop.loc)
        return Function(name, params, body, loop.loc, state)

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
