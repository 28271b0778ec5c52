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

from .dead_values import forward_projections, prune
from .ir import Body, Function, Lambda, Let, Prim, Var, map_bodies


def next_state_lets(step: Function, nexts: set[str], varying: list) -> dict[str, int]:
    """The lets of the stepping function `step` whose values are part k of the next state
    (`nexts`: the names of its next-state tuples), by name: {name: k}. Tuple projections
    are forwarded first (dead_values.py), so a part is found through renamings only."""
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
            for value in (let.value, *getattr(let.value, "args", ())):
                if isinstance(value, Lambda):
                    visit(value.body, scope)
    visit(forward_projections(step.body, {}), {})
    return found


def defining_let(atom, scope: dict) -> str | None:
    """The name of the let that computes `atom`'s value, seen through renamings; None for
    a parameter or a constant."""
    while isinstance(atom, Var) and isinstance(scope.get(atom.name), Var):
        atom = scope[atom.name]
    return atom.name if isinstance(atom, Var) and atom.name in scope else None


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
    """`body` with the lets named in `table`, in it or nested, given those values."""
    return map_bodies(lambda b: Body(tuple(Let(let.var, table[let.var.name], let.loc)
                                           if let.var.name in table else let
                                           for let in b.lets), b.result), body)
