"""Print IR as readable, typed, Python-like text.

    def axpy(a: float, x: f32[N], y: f32[N]) -> f32[N]:    # examples/axpy.py:4
        t2: f32[N] = map(lambda xi, yi: op_add(op_mul(a, xi), yi), x, y)
        return t2

A lambda whose body is a chain of temporaries each used once prints inline as one nested
expression; any other lambda prints as a local `def` just before the let that uses it.
"""

from __future__ import annotations

import os

from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var
from .types import format_type


def format_program(program: Program) -> str:
    main = program.functions[program.entry]
    others = [f for name, f in program.functions.items() if name != program.entry]
    return "\n\n".join(format_function(f) for f in [main, *others])


def format_function(fn: Function) -> str:
    p = Printer()
    params = ", ".join(p.binder(v) for v in fn.params)
    result = f" -> {p.type(fn.result_type)}" if fn.result_type is not None else ""
    head = f"def {fn.name}({params}){result}:"
    if fn.loc is not None:
        head = f"{head:<54}  # {short_path(fn.loc.file)}:{fn.loc.line}"
    return "\n".join([head, *p.body(fn.body, "    ")])


def short_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class Printer:
    def __init__(self):
        self.dims: dict = {}
        self.defs = 0

    def type(self, t) -> str:
        return format_type(t, self.dims)

    def binder(self, v: Var) -> str:
        return f"{v.name}: {self.type(v.type)}" if v.type is not None else v.name

    def body(self, body: Body, indent: str) -> list[str]:
        lines: list[str] = []
        for let in body.lets:
            lines += self.let(let, indent)
        lines.append(f"{indent}return {self.atom(body.result)}")
        return lines

    def let(self, let: Let, indent: str) -> list[str]:
        if isinstance(let.value, Lambda) and not self.inline(let.value):
            return self.local_def(let.var.name, let.value, indent)
        before: list[str] = []
        text = self.value(let.value, indent, before)
        return before + [f"{indent}{self.binder(let.var)} = {text}"]

    def local_def(self, name: str, lam: Lambda, indent: str) -> list[str]:
        params = ", ".join(self.binder(v) for v in lam.params)
        return [f"{indent}def {name}({params}):", *self.body(lam.body, indent + "    ")]

    def value(self, value, indent: str, before: list[str]) -> str:
        match value:
            case Prim("call", (fn, *args)):
                return f"{self.atom(fn)}({', '.join(self.arg(a, indent, before) for a in args)})"
            case Prim(name, args):
                return f"{name}({', '.join(self.arg(a, indent, before) for a in args)})"
            case Lambda():
                return self.lambda_text(value)
        return self.atom(value)

    def arg(self, arg, indent: str, before: list[str]) -> str:
        if not isinstance(arg, Lambda):
            return self.atom(arg)
        if self.inline(arg):
            return self.lambda_text(arg)
        name = f"λ{self.defs}"
        self.defs += 1
        before += self.local_def(name, arg, indent)
        return name

    def atom(self, atom) -> str:
        match atom:
            case Var(name):
                return name
            case Const(value=FnRef(name)):
                return name
            case Const(value=value):
                return repr(value.item()) if hasattr(value, "item") else repr(value)
        return repr(atom)

    def inline(self, lam: Lambda) -> bool:
        return inline_expr(lam.body) is not None and all(
            not isinstance(a, Lambda) or self.inline(a)
            for let in lam.body.lets for a in getattr(let.value, "args", ()))

    def lambda_text(self, lam: Lambda) -> str:
        params = ", ".join(p.name for p in lam.params)
        expr = self.expression(lam.body)
        return f"lambda {params}: {expr}" if params else f"lambda: {expr}"

    def expression(self, body: Body) -> str:
        exprs: dict[str, str] = {}
        for let in body.lets:
            exprs[let.var.name] = self.expr_text(let.value, exprs)
        return self.expr_text(body.result, exprs)

    def expr_text(self, value, exprs: dict) -> str:
        match value:
            case Var(name) if name in exprs:
                return exprs[name]
            case Prim("call", (fn, *args)):
                return f"{self.atom(fn)}({', '.join(self.expr_text(a, exprs) for a in args)})"
            case Prim(name, args):
                return f"{name}({', '.join(self.expr_text(a, exprs) for a in args)})"
            case Lambda():
                return self.lambda_text(value)
        return self.atom(value)


def inline_expr(body: Body):
    """Whether `body` reads as one expression: every let a temporary used exactly once."""
    uses: dict[str, int] = {}

    def count(node):
        match node:
            case Var(name):
                uses[name] = uses.get(name, 0) + 1
            case Prim(_, args):
                for a in args:
                    count(a)
            case Lambda(_, inner):
                for let in inner.lets:
                    count(let.value)
                count(inner.result)

    for let in body.lets:
        if isinstance(let.value, Lambda):
            return None
        count(let.value)
    count(body.result)
    if all(uses.get(let.var.name, 0) == 1 for let in body.lets):
        return True
    return None
