"""The adjoint of a recorded loop's step reads the next state from the record.

The backward loop of a recorded loop (autodiff_loops.py) calls the derived step at state i
and takes its cotangent back to state i - 1. The derived step recomputes the step's forward
values, the next state's parts among them: an LSTM's step recomputed its new cell and hidden
state (five transcendental functions per unit) only to read them in the adjoint (the
product h_new^T ct that is w_hh's cotangent, tanh(c_new) in h_new's derivative). State
i + 1 is in the record, computed by the same step from the same state, so those values are
read from it instead: the lets that compute a part of the next state in the tail call's own
body become that part, a parameter of the derived step, and what only they read is dropped.

Only a let in the body of the tail call itself is replaced: a let outside a branch may be
the next state on one path and something else on another.
"""

from __future__ import annotations

from .dead_values import on_lambdas, prune
from .ir import Body, Const, Function, Lambda, Let, Prim, Var


def next_state_lets(step: Function, nexts: set[str], varying: list) -> dict[str, int]:
    """The lets of the stepping function `step` whose values are part k of the next state
    (`nexts`: the names of its next-state tuples), by name: {name: k}."""
    found: dict[str, int] = {}

    def visit(body: Body, outer: dict) -> None:
        scope = {**outer, **{let.var.name: let.value for let in body.lets}}
        local = {let.var.name for let in body.lets}
        for let in body.lets:
            if let.var.name in nexts and isinstance(let.value, Prim):
                for k in varying:
                    name = defining_let(let.value.args[k], scope)
                    if name in local:
                        found.setdefault(name, k)
            for lam in lambdas_of(let.value):
                visit(lam.body, scope)
    visit(step.body, {})
    return found


def lambdas_of(value) -> list:
    if isinstance(value, Lambda):
        return [value]
    if isinstance(value, Prim):
        return [a for a in value.args if isinstance(a, Lambda)]
    return []


def defining_let(atom, scope: dict) -> str | None:
    """The name of the let that computes `atom`'s value, seen through renamings and the
    projections of tuples built in scope; None for a parameter or a constant."""
    while isinstance(atom, Var) and atom.name in scope:
        value = scope[atom.name]
        if isinstance(value, Var):
            atom = value
            continue
        if isinstance(value, Prim) and value.name == "index" and \
                isinstance(value.args[1], Const):
            parts = tuple_parts(value.args[0], scope)
            if parts is not None:
                atom = parts[int(value.args[1].value)]
                continue
        return atom.name
    return None


def tuple_parts(atom, scope: dict):
    """The atoms of the tuple `atom` is, where it is built in scope; else None."""
    while isinstance(atom, Var) and atom.name in scope:
        value = scope[atom.name]
        if isinstance(value, Prim) and value.name == "tuple":
            return value.args
        if isinstance(value, Prim) and value.name == "unpack":
            atom = value.args[0]
        elif isinstance(value, Var):
            atom = value
        else:
            return None
    return None


def reading_next_state(derived: Function, lets: dict[str, int], known: list,
                       state_count: int, names, types: list) -> Function:
    """`derived` (the pullback of the step: state..., ct) taking the next state's parts
    `known` after the state (state..., next parts..., ct), its lets in `lets` reading them."""
    params = {k: Var(names.fresh(f"next_{k}"), types[k], derived.loc) for k in known}
    table = {name: params[k] for name, k in lets.items()}
    body = prune(replaced(derived.body, table))
    ordered = tuple(params[k] for k in known)
    new_params = derived.params[:state_count] + ordered + derived.params[state_count:]
    return Function(derived.name, new_params, body, derived.loc, derived.result_type)


def replaced(body: Body, table: dict) -> Body:
    lets = []
    for let in body.lets:
        if let.var.name in table:
            lets.append(Let(let.var, table[let.var.name], let.loc))
        else:
            lets.append(Let(let.var, on_lambdas(let.value, lambda b: replaced(b, table)),
                            let.loc))
    return Body(tuple(lets), body.result)


def defined_names(body: Body) -> set[str]:
    """Every let name in `body` and its nested bodies."""
    out = set()
    for let in body.lets:
        out.add(let.var.name)
        for lam in lambdas_of(let.value):
            out |= defined_names(lam.body)
    return out
