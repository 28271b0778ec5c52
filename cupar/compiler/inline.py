"""Pass `inline_calls`: replace calls of non-recursive @parallel functions by their bodies.

Precondition: a typed Program. Postcondition: the same meaning, with every call of a function
outside a call-graph cycle replaced by the callee's lets (renamed apart, parameters bound to
the arguments) and the functions no longer called dropped. Recursive functions stay calls:
they are loops; so do the helpers of a derivative called in the program (`Program.kept`),
which the derivative's own pipeline kept apart. Inlining is what lets fusion see across
function boundaries (Black-Scholes' `cnd` inside its `map`).
"""

from __future__ import annotations

import itertools

from .ir import (Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var, bound_names,
                 fresh_suffix, program_names, substitute)
from .tailcalls import callees, reaches


def inline_calls(program: Program) -> Program:
    graph = {name: callees(fn.body) for name, fn in program.functions.items()}
    recursive = {name for name in graph if reaches(graph, name, name)}
    inliner = Inliner(program.functions, recursive | program.kept)
    functions = {name: inliner.function(name) for name in program.functions}
    live = reachable(functions, program.entry)
    return program.replace_functions({n: f for n, f in functions.items() if n in live})


def reachable(functions: dict, entry: str) -> set[str]:
    live, todo = {entry}, [entry]
    while todo:
        for callee in callees(functions[todo.pop()].body):
            if callee not in live:
                live.add(callee)
                todo.append(callee)
    return live


class Inliner:
    def __init__(self, functions: dict, called: set[str]):
        """`called`: the functions left as calls (recursive ones, and `Program.kept`)."""
        self.functions, self.called = functions, called
        self.done: dict[str, Function] = {}
        self.ids = itertools.count()
        self.taken = program_names(functions.values())  # (a user may name a local `t__0`)

    def function(self, name: str) -> Function:
        if name not in self.done:
            fn = self.functions[name]
            self.done[name] = Function(fn.name, fn.params, self.body(fn.body), fn.loc,
                                       fn.result_type)
        return self.done[name]

    def body(self, body: Body) -> Body:
        lets: list[Let] = []
        for let in body.lets:
            callee = self.inlinable(let.value)
            if callee is None:
                lets.append(Let(let.var, self.value(let.value), let.loc))
                continue
            inlined = self.instance(callee, let.value.args[1:])
            lets += inlined.lets
            lets.append(Let(let.var, inlined.result, let.loc))
        return Body(tuple(lets), body.result)

    def value(self, value):
        if isinstance(value, Lambda):
            return Lambda(value.params, self.body(value.body), value.loc)
        if isinstance(value, Prim):
            args = tuple(self.value(a) if isinstance(a, Lambda) else a for a in value.args)
            return Prim(value.name, args, value.loc)
        return value

    def inlinable(self, value) -> str | None:
        if isinstance(value, Prim) and value.name == "call":
            fn = value.args[0]
            if isinstance(fn, Const) and isinstance(fn.value, FnRef) and \
                    fn.value.name not in self.called:
                return fn.value.name
        return None

    def instance(self, name: str, args: tuple) -> Body:
        """The callee's body, renamed apart, with its parameters replaced by `args`."""
        callee = self.function(name)
        names = bound_names(callee.body)
        suffix = fresh_suffix(names, self.taken, self.ids, "__{}")
        table = {n: Var(n + suffix) for n in names}
        table.update({p.name: arg for p, arg in zip(callee.params, args)})
        return substitute(callee.body, table)
