"""Pass `check_tail_calls`: recursion must be tail recursion, Copperhead's only loop.

Precondition: a resolved Program. Postcondition: unchanged, or a CuparSyntaxError at the first
recursive call that is not in tail position. A call is in tail position when its value is the
result of the function body, or of a branch of a `cond` that is itself in tail position.
Recursive means: to a @parallel function of the same call-graph cycle, or a nested def calling
itself. Such calls can then run as loops, in the interpreter and in generated code alike.
"""

from __future__ import annotations

from ..errors import CuparSyntaxError, message
from .ir import Body, Const, FnRef, Lambda, Prim, Program, Var


def check_tail_calls(program: Program) -> Program:
    graph = {name: callees(fn.body) for name, fn in program.functions.items()}
    for name, fn in program.functions.items():
        cycle = {other for other in graph if reaches(graph, other, name) and
                 reaches(graph, name, other)}
        check_body(fn.body, cycle, tail=True)
    return program


def callees(body: Body) -> set[str]:
    found: set[str] = set()
    for let in body.lets:
        for node in (let.value, *getattr(let.value, "args", ())):
            if isinstance(node, Const) and isinstance(node.value, FnRef):
                found.add(node.value.name)
            elif isinstance(node, Lambda):
                found |= callees(node.body)
    return found


def reaches(graph: dict, start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def check_body(body: Body, recursive: set[str], tail: bool) -> None:
    last = len(body.lets) - 1
    for k, let in enumerate(body.lets):
        in_tail = tail and k == last and isinstance(body.result, Var) and \
            body.result.name == let.var.name
        value = let.value
        if isinstance(value, Lambda):  # a nested def: calls to itself must be tail calls
            check_body(value.body, recursive | {let.var.name}, tail=True)
            continue
        if not isinstance(value, Prim):
            continue
        if value.name == "call" and not in_tail and callee_name(value) in recursive:
            text, hint = message("recursion", what=callee_name(value))
            raise CuparSyntaxError(text, value.loc, hint)
        for arg in value.args:
            if isinstance(arg, Lambda):
                branch_tail = in_tail and value.name == "cond"
                check_body(arg.body, recursive, branch_tail)


def callee_name(prim: Prim) -> str | None:
    fn = prim.args[0]
    if isinstance(fn, Const) and isinstance(fn.value, FnRef):
        return fn.value.name
    if isinstance(fn, Var):
        return fn.name
    return None
