"""Dropping values nothing reads, before `lower_to_kernels`.

The language is pure, so a let whose value no later let, lambda or result reads can go, and
so, transitively, can what only it read. Lowering dead values made the back ends meet code
their generators were never tried on (a sort nothing read became a Numba object-mode block
Numba refused; a map of one raised a KeyError), and computing them was waste. Tuple
projections are forwarded first (`t1, t2 = a, sort(xs)` reads `a` for `t1`, not the tuple),
so a dead part of a tuple dies with it.

What dropping loses is a dead value's errors (an index out of range, lengths that differ in
a zip): `places.here` interprets the typed program, dead values included, and still reports
them; a compiled place reports the errors of what it computes.

Precondition: a typed Function. Postcondition: the same results, every let read.
"""

from __future__ import annotations

from .ir import Body, Const, Function, Lambda, Let, Prim, Var, free_vars
from .types import Tuple


def drop_dead_values(fn: Function, dropped: list | None = None) -> Function:
    """`fn` with tuple projections forwarded and dead lets removed; the names removed are
    appended to `dropped`."""
    body = prune(forward_projections(fn.body, {}), dropped)
    return Function(fn.name, fn.params, body, fn.loc, fn.result_type)


def forward_projections(body: Body, tuples: dict) -> Body:
    """`index(t, k)` of a tuple built in scope by `tuple(...)` (through `unpack` or plain
    renamings) becomes the k-th atom itself. `tuples` maps names to their atoms."""
    lets = []
    for let in body.lets:
        value = let.value
        match value:
            case Prim("tuple", args):
                tuples[let.var.name] = args
            case Prim("unpack", (Var(name), _)) | Var(name) if name in tuples:
                tuples[let.var.name] = tuples[name]
            case Prim("index", (Var(name, t), Const(value=k))) if \
                    name in tuples and isinstance(t, Tuple):
                value = tuples[name][int(k)]
                if isinstance(value, Var) and value.name in tuples:
                    tuples[let.var.name] = tuples[value.name]
        lets.append(Let(let.var, on_lambdas(value, lambda b: forward_projections(b, tuples)),
                        let.loc))
    return Body(tuple(lets), body.result)


def prune(body: Body, dropped: list | None = None) -> Body:
    """`body` without the lets nothing uses, in it or in its nested bodies; the names
    removed are appended to `dropped`."""
    used = free_vars(body.result) if isinstance(body.result, Var) else set()
    kept: list[Let] = []
    for let in reversed(body.lets):
        if let.var.name not in used:
            if dropped is not None:
                dropped.append(let.var.name)
            continue
        value = on_lambdas(let.value, lambda b: prune(b, dropped))
        kept.append(Let(let.var, value, let.loc))
        used |= free_vars(value)
    return Body(tuple(reversed(kept)), body.result)


def on_lambdas(value, rewrite):
    """`value` with `rewrite: Body -> Body` applied to the bodies of its lambdas (the value
    itself if a Lambda, or a Prim's lambda arguments)."""
    if isinstance(value, Lambda):
        return Lambda(value.params, rewrite(value.body), value.loc)
    if isinstance(value, Prim):
        return Prim(value.name, tuple(Lambda(a.params, rewrite(a.body), a.loc)
                                      if isinstance(a, Lambda) else a
                                      for a in value.args), value.loc)
    return value
