"""The adjoint of `iterate`: every state of a recurrence, read backwards.

`ys = iterate(f, x, n)` holds the states s_0 = x, s_k = f(s_{k-1}), k < n. Each state is
both an output (row k of ys) and the input of the next step, so its cotangent is its row's
plus what the next step sends back:

    G_{n-1} = ct[n-1],   G_{k-1} = ct[k-1] + (the adjoint of f at s_{k-1}) (G_k)

and x's cotangent is G_0. What f captures (weights) collects the adjoint of every step.
The states are ys itself, so nothing is recomputed and nothing more is recorded: the
backward loop reads ys's rows in reverse, O(n) steps. This is what a sequence model needs
that outputs every hidden state (cupar.nn's recurrent layers with `sequence=True`).

For the let it emits, as functions of the program (tail-recursive, so they run as loops):
    iterate_step(state, captures...)   f's body returning (f(state), captures with a
                                       gradient...), the captures passed through so that
                                       their cotangents accumulate in the loop's state
    vjp of it                          (derived like any function)
    iterate_back(ys, ct, captures..., i, acc)
                                       acc: the cotangent of (s_i, captures) without row
                                       i's own; returns that of (x, captures)
A captured sequence is read whole by every step, so its cotangent is added as a whole
array per step: O(n x its size). The weights of a recurrence are small; a sequence the
steps read one row of (the inputs of an RNN) carries a gradient only where the model
differentiates its input (a second recurrent layer): O(steps^2 x batch x width) there.
"""

from __future__ import annotations

from .autodiff_loops import ref
from .build import Builder
from .ir import Body, Function, Lambda, Let, Prim, Var, free_vars, substitute
from .types import Tuple


def rule_iterate(s) -> None:
    d, b = s.d, s.b
    f, x, _ = s.args
    lam = d.function_of(f, s.let.loc)
    captured = captures(d, lam)
    wrt = [c for c in captured if c in d.active and d.differentiable(d.types[c])]
    state_type = s.y.type.elem
    step, cap_params = stepping(d, lam, captured, wrt, state_type)
    names = {k: d.names.fresh(f"iterate_{k}") for k in ("vjp", "back")}
    vjp_step = d.sub(ignore=()).derive(step, (0, *(1 + captured.index(c) for c in wrt)),
                                       names["vjp"])
    d.loops.add(vjp_step)
    d.loops.add(going_back(d, names, state_type, len(captured), len(wrt), s.let.loc))
    cap_atoms = [Var(c, d.types[c], s.let.loc) for c in captured]
    start = b.prim("tuple", b.zeros_like(x, state_type),
                   *(b.zeros_like(Var(c, d.types[c], s.let.loc), d.types[c]) for c in wrt))
    last = b.prim("op_sub", b.prim("len", s.y), b.const(1))
    total = b.prim("call", ref(names["back"], b.loc), s.y, s.ct, *cap_atoms, last, start)
    s.add(1, b.field(total, 0))
    for k, c in enumerate(wrt):
        s.adj.add(Var(c, d.types[c], s.let.loc), b.field(total, k + 1))


def captures(d, lam: Lambda) -> list:
    """The values f's body reads from outside (through the local functions it uses)."""
    return sorted(n for n in reached(d, lam) if n not in d.lambdas)


def reached(d, lam: Lambda) -> set:
    """The names f's body reads from outside, local functions it uses followed into."""
    found, todo = set(), list(free_vars(lam))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += free_vars(d.lambdas[name]) if name in d.lambdas else []
    return found


def stepping(d, lam: Lambda, captured: list, wrt: list, state_type):
    """iterate_step(state, captures...) = (f(state), the captures in `wrt`...), typed."""
    loc = lam.loc
    state = Var(d.names.fresh("state"), state_type, loc)
    params = [Var(d.names.fresh(c), d.types[c], loc) for c in captured]
    table = {lam.params[0].name: state, **{c: p for c, p in zip(captured, params)}}
    local = [Let(Var(name, None, loc), d.lambdas[name], loc) for name in
             sorted(n for n in reached(d, lam) if n in d.lambdas)]
    body = substitute(Body(tuple(local) + lam.body.lets, lam.body.result), table)
    passed = [params[captured.index(c)] for c in wrt]
    result_type = Tuple((state_type, *(p.type for p in passed)))
    out = Var(d.names.fresh("next"), result_type, loc)
    body = Body(body.lets + (Let(out, Prim("tuple", (body.result, *passed), loc), loc),), out)
    return Function(d.names.fresh("iterate_step"), (state, *params), body, loc,
                    result_type), params


def going_back(d, names: dict, state_type, n_captured: int, n_wrt: int, loc):
    """iterate_back(ys, ct, captures..., i, acc); see the module's docstring."""
    fresh = [Var(d.names.fresh(n), None, loc) for n in ("states", "ct")]
    ys, ct = fresh
    caps = tuple(Var(d.names.fresh("captured"), None, loc) for _ in range(n_captured))
    i, acc = Var(d.names.fresh("step"), None, loc), Var(d.names.fresh("acc"), None, loc)
    b = Builder(d.names, loc)
    more = b.nested()
    whole = more.add(more.field(acc, 0), more.prim("index", ct, i), state_type)
    rest = [more.field(acc, k + 1) for k in range(n_wrt)]
    first = more.prim("cmp_le", i, more.const(0))
    last_branch = Lambda((), Body((), more.prim("tuple", whole, *rest)), loc)

    def earlier(eb):
        before = eb.prim("op_sub", i, eb.const(1))
        state = eb.prim("index", ys, before)
        grads = eb.prim("call", ref(names["vjp"], loc), state, *caps,
                        eb.prim("tuple", whole, *rest))
        return eb.prim("call", ref(names["back"], loc), ys, ct, *caps, before, grads)
    inner = more.nested()
    go_on = Lambda((), inner.body(earlier(inner)), loc)
    result = more.prim("cond", first, last_branch, go_on)
    done = b.prim("cmp_lt", i, b.const(0))
    out = b.prim("cond", done, Lambda((), Body((), acc), loc), Lambda((), more.body(result),
                                                                         loc))
    return Function(names["back"], (ys, ct, *caps, i, acc), b.body(out), loc)
