"""Front end: Python source of one decorated function -> untyped IR.

Precondition: the source parses as Python. Postcondition: a `Function` in flat
single-assignment form (see ir.py) where every name the function reads but does not bind is
left as a free `Var` (globals, prelude names, dotted names like `cupar.map`), to be resolved
at the first call by `resolve_globals`. Every unsupported construct raises CuparSyntaxError
at its own line and column.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import replace

from ..errors import CuparSyntaxError, Loc, message
from .closures import Captures
from .ir import Body, Const, Function, Lambda, Let, Prim, Var

BINOPS = {ast.Add: "op_add", ast.Sub: "op_sub", ast.Mult: "op_mul", ast.Div: "op_div",
          ast.FloorDiv: "op_floordiv", ast.Mod: "op_mod", ast.Pow: "op_pow",
          ast.LShift: "op_lshift", ast.RShift: "op_rshift", ast.BitOr: "op_or",
          ast.BitXor: "op_xor", ast.BitAnd: "op_and"}
UNARYOPS = {ast.USub: "op_neg", ast.UAdd: "op_pos", ast.Invert: "op_invert", ast.Not: "op_not"}
COMPARES = {ast.Eq: "cmp_eq", ast.NotEq: "cmp_ne", ast.Lt: "cmp_lt", ast.LtE: "cmp_le",
            ast.Gt: "cmp_gt", ast.GtE: "cmp_ge"}
LOOPS = {ast.For: "for", ast.AsyncFor: "async for", ast.While: "while"}
STATEMENTS = {ast.ImportFrom: "from ... import", ast.ClassDef: "class", ast.Delete: "del",
              ast.AnnAssign: "annotated assignment", ast.AsyncFunctionDef: "async def",
              ast.AsyncWith: "async with", ast.TryStar: "try"}
COMPARE_NAMES = {ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


def parse_function(source: str, file: str, first_line: int) -> Function:
    """Parse the source text of one `def` (decorators included) starting at `first_line`."""
    indent = len(source) - len(source.lstrip(" \t"))
    tree = ast.parse(textwrap.dedent(source))
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        loc = Loc(file, first_line, indent)
        raise CuparSyntaxError("@parallel applies to a `def` function", loc,
                               "decorate a function defined with `def`")
    return Translator(file, first_line - 1, indent).function(fdef)


class Scope:
    """Names visible at a point: source name -> IR Var. Inner scopes see outer ones.
    `function`: the scope of a Python function (def, lambda, comprehension), not of a
    branch of an `if`."""

    def __init__(self, parent: Scope | None = None, function: bool = False):
        self.names: dict[str, Var] = {}
        self.maybe_unbound: dict[str, int] = {}  # name -> line of the `if` that left it so
        self.parent, self.function = parent, function

    def lookup(self, name: str) -> Var | None:
        return self.find(name)[1]

    def find(self, name: str) -> tuple:
        """(the scope binding `name`, its Var), or (None, None)."""
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope, scope.names[name]
            scope = scope.parent
        return None, None

    def unbound_line(self, name: str) -> int | None:
        scope = self
        while scope is not None:
            if name in scope.maybe_unbound:
                return scope.maybe_unbound[name]
            scope = scope.parent
        return None


class Translator:
    def __init__(self, file: str, line_offset: int, col_offset: int):
        self.file, self.line_offset, self.col_offset = file, line_offset, col_offset
        self.used: set[str] = set()
        self.temps = 0
        self.captures = Captures()  # free names of local functions (see closures.py)
        self.lambdas: dict[int, tuple] = {}  # id of a Lambda -> what Captures.leave said

    # -- helpers -------------------------------------------------------------------------
    def loc(self, node: ast.AST) -> Loc:
        return Loc(self.file, node.lineno + self.line_offset, node.col_offset + self.col_offset)

    def fail(self, node: ast.AST, key: str, **fields):
        text, hint = message(key, **fields)
        raise CuparSyntaxError(text, self.loc(node), hint)

    def fresh(self, base: str | None = None) -> str:
        if base is None:
            name = f"t{self.temps}"
            self.temps += 1
            while name in self.used:
                name = f"t{self.temps}"
                self.temps += 1
        else:
            name, k = base, 0
            while name in self.used:
                k += 1
                name = f"{base}_{k}"
        self.used.add(name)
        return name

    def emit(self, lets: list, value, node: ast.AST, name: str | None = None) -> Var:
        var = Var(self.fresh(name), loc=self.loc(node))
        lets.append(Let(var, value, self.loc(node)))
        return var

    def bind(self, scope: Scope, name: str, node: ast.AST) -> Var:
        var = Var(self.fresh(name), loc=self.loc(node))
        scope.names[name] = var
        scope.maybe_unbound.pop(name, None)
        return var

    # -- functions -----------------------------------------------------------------------
    def function(self, fdef: ast.FunctionDef) -> Function:
        scope = Scope(function=True)
        params = self.params(fdef.args, scope)
        body = self.block_body(fdef.body, scope, fdef)
        return Function(fdef.name, params, body, self.loc(fdef))

    def params(self, args: ast.arguments, scope: Scope) -> tuple[Var, ...]:
        if args.vararg or args.kwarg:
            self.fail(args.vararg or args.kwarg, "params", what="*args and **kwargs")
        if args.kwonlyargs:
            self.fail(args.kwonlyargs[0], "params", what="keyword-only parameters")
        if args.defaults:
            self.fail(args.defaults[0], "params", what="default values")
        return tuple(self.bind(scope, a.arg, a) for a in args.posonlyargs + args.args)

    def block_body(self, stmts: list, scope: Scope, owner: ast.AST) -> Body:
        lets: list = []
        result = self.block(stmts, scope, lets)
        if result is None:
            self.fail(owner, "no_return", what=f"`{owner.name}`")
        return Body(tuple(lets), result)

    def thunk(self, build, node: ast.AST) -> Lambda:
        """A zero-argument lambda whose body is what `build(lets)` emits and returns."""
        lets: list = []
        result = build(lets)
        return Lambda((), Body(tuple(lets), result), self.loc(node))

    # -- statements ----------------------------------------------------------------------
    def block(self, stmts: list, scope: Scope, lets: list):
        """Translate statements into `lets`; return the result atom, or None if the block
        can fall off its end."""
        for i, stmt in enumerate(stmts):
            match stmt:
                case ast.Return(value=None):
                    self.fail(stmt, "bare_return")
                case ast.Return(value=value):
                    return self.atom(value, scope, lets)
                case ast.If():
                    result = self.if_stmt(stmt, stmts[i + 1:], scope, lets)
                    if result is not None:
                        return result
                case _:
                    self.simple_stmt(stmt, scope, lets, first=(i == 0))
        return None

    def simple_stmt(self, stmt: ast.stmt, scope: Scope, lets: list, first: bool) -> None:
        match stmt:
            case ast.Assign(targets=[target], value=value):
                self.assign(target, self.operand(value, scope, lets), scope, lets)
            case ast.Assign():
                self.fail(stmt, "chained_assign")
            case ast.AugAssign(target=ast.Name(id=name), op=op, value=value) if type(op) in BINOPS:
                left = self.name(ast.Name(id=name, ctx=ast.Load(), lineno=stmt.lineno,
                                          col_offset=stmt.col_offset), scope)
                right = self.atom(value, scope, lets)
                result = Prim(BINOPS[type(op)], (left, right), self.loc(stmt))
                lets.append(Let(self.bind(scope, name, stmt), result, self.loc(stmt)))
            case ast.AugAssign(target=ast.Subscript()) | ast.Assign(targets=[ast.Subscript()]):
                self.fail(stmt, "mutation")
            case ast.FunctionDef():
                self.nested_def(stmt, scope, lets)
            case ast.Expr(value=ast.Constant(value=str())) if first:
                pass  # docstring
            case ast.Pass():
                pass
            case ast.Expr():
                self.fail(stmt, "expression_statement")
            case _ if type(stmt) in LOOPS:
                self.fail(stmt, "loop", what=LOOPS[type(stmt)])
            case _:
                what = STATEMENTS.get(type(stmt), type(stmt).__name__.lower())
                self.fail(stmt, "statement", what=what)

    def assign(self, target: ast.expr, value, scope: Scope, lets: list) -> None:
        match target:
            case ast.Name(id=name):
                var = self.bind(scope, name, target)
                if isinstance(value, Lambda) and id(value) in self.lambdas:  # f = lambda ...
                    self.captures.bind(var.name, self.lambdas[id(value)])
                lets.append(Let(var, value, self.loc(target)))
            case ast.Tuple(elts=elts) | ast.List(elts=elts):
                if any(isinstance(e, ast.Starred) for e in elts):
                    self.fail(target, "expression", what="starred assignment")
                whole = value
                if not isinstance(value, (Var, Const)):  # named where the value is written
                    whole = Var(self.fresh(), loc=value.loc or self.loc(target))
                    lets.append(Let(whole, value, whole.loc))
                checked = Prim("unpack", (whole, Const(len(elts), loc=self.loc(target))),
                               self.loc(target))
                whole = self.emit(lets, checked, target)  # Python's "too many values" check
                for k, elt in enumerate(elts):
                    part = Prim("index", (whole, Const(k, loc=self.loc(elt))), self.loc(elt))
                    self.assign(elt, part, scope, lets)
            case ast.Subscript():
                self.fail(target, "mutation")
            case ast.Attribute():
                self.fail(target, "attribute", what=ast.unparse(target))
            case _:
                self.fail(target, "expression", what="this assignment target")

    def nested_def(self, fdef: ast.FunctionDef, scope: Scope, lets: list) -> None:
        if fdef.decorator_list:
            self.fail(fdef.decorator_list[0], "decorated_def")
        var = self.bind(scope, fdef.name, fdef)  # bound first: the body may call itself
        inner = Scope(scope, function=True)
        params = self.params(fdef.args, inner)
        self.captures.enter(inner)
        body = self.block_body(fdef.body, inner, fdef)
        self.captures.bind(var.name, self.captures.leave())
        lets.append(Let(var, Lambda(params, body, self.loc(fdef)), self.loc(fdef)))

    def if_stmt(self, stmt: ast.If, rest: list, scope: Scope, lets: list):
        """`if` with a returning branch becomes the result `cond`; the statements after it
        move into the branch that does not return. Otherwise the names both branches assign
        are joined: `(a, b) = cond(p, lambda: (...), lambda: (...))`."""
        test = self.atom(stmt.test, scope, lets)
        then_ret, else_ret = always_returns(stmt.body), always_returns(stmt.orelse)
        if then_ret or else_ret:
            then_stmts = stmt.body if then_ret else stmt.body + rest
            else_stmts = stmt.orelse if else_ret else stmt.orelse + rest
            then = self.branch(then_stmts, scope, stmt)
            other = self.branch(else_stmts, scope, stmt)
            return self.emit(lets, Prim("cond", (test, then, other), self.loc(stmt)), stmt)
        joined = self.joined_names(stmt, scope)
        branches = [self.join_branch(b, scope, joined, stmt) for b in (stmt.body, stmt.orelse)]
        packed = self.emit(lets, Prim("cond", (test, *branches), self.loc(stmt)), stmt)
        for k, name in enumerate(joined):
            value = packed if len(joined) == 1 else Prim(
                "index", (packed, Const(k, loc=self.loc(stmt))), self.loc(stmt))
            lets.append(Let(self.bind(scope, name, stmt), value, self.loc(stmt)))
        return None

    def branch(self, stmts: list, scope: Scope, owner: ast.If) -> Lambda:
        inner = Scope(scope)

        def build(lets):
            result = self.block(stmts, inner, lets)
            if result is None:
                self.fail(owner, "no_return", what="this `if`")
            return result
        lam = self.thunk(build, owner)
        return replace(lam, loc=lam.body.result.loc or lam.loc)  # a type clash points at the value

    def joined_names(self, stmt: ast.If, scope: Scope) -> list[str]:
        then, other = assigned_names(stmt.body), assigned_names(stmt.orelse)
        joined = [n for n in dict.fromkeys(then + other)
                  if (n in then and n in other) or scope.lookup(n) is not None]
        for name in set(then + other) - set(joined):
            scope.maybe_unbound[name] = stmt.lineno + self.line_offset
        return joined

    def join_branch(self, stmts: list, scope: Scope, joined: list, owner: ast.If) -> Lambda:
        inner = Scope(scope)

        def build(lets):
            self.block(stmts, inner, lets)
            atoms = [self.name(ast.Name(id=n, lineno=owner.lineno, col_offset=owner.col_offset),
                               inner) for n in joined]
            if len(atoms) == 1:
                return atoms[0]
            return self.emit(lets, Prim("tuple", tuple(atoms), self.loc(owner)), owner)
        return self.thunk(build, owner)

    # -- expressions ---------------------------------------------------------------------
    def atom(self, node: ast.expr, scope: Scope, lets: list):
        value = self.operand(node, scope, lets)
        if isinstance(value, (Var, Const)):
            return value
        return self.emit(lets, value, node)

    def operand(self, node: ast.expr, scope: Scope, lets: list):
        """Translate an expression to an atom, a Lambda, or a Prim not yet bound to a name."""
        loc = self.loc(node)
        match node:
            case ast.Name():
                return self.name(node, scope)
            case ast.Constant(value=value):
                if isinstance(value, (bool, int, float)) and not isinstance(value, complex):
                    return Const(value, loc=loc)
                self.fail(node, "constant", what=repr(value))
            case ast.Attribute():
                return self.dotted(node, scope)
            case ast.BinOp(op=op) if type(op) in BINOPS:
                args = (self.atom(node.left, scope, lets), self.atom(node.right, scope, lets))
                return Prim(BINOPS[type(op)], args, loc)
            case ast.BinOp():
                self.fail(node, "expression", what="the `@` operator")
            case ast.UnaryOp(op=op, operand=arg):
                return Prim(UNARYOPS[type(op)], (self.atom(arg, scope, lets),), loc)
            case ast.Compare():
                return self.compare(node, scope, lets)
            case ast.BoolOp():
                return self.boolop(node, node.values, scope, lets)
            case ast.IfExp(test=test, body=body, orelse=orelse):
                pred = self.atom(test, scope, lets)
                then = self.thunk(lambda ls: self.atom(body, scope, ls), body)
                other = self.thunk(lambda ls: self.atom(orelse, scope, ls), orelse)
                return Prim("cond", (pred, then, other), loc)
            case ast.Call():
                return self.call(node, scope, lets)
            case ast.Lambda(args=args, body=body):
                inner = Scope(scope, function=True)
                params = self.params(args, inner)
                self.captures.enter(inner)
                lam = Lambda(params, self.expr_body(body, inner), loc)
                self.lambdas[id(lam)] = self.captures.leave()
                return lam
            case ast.Tuple(elts=elts):
                if any(isinstance(e, ast.Starred) for e in elts):
                    self.fail(node, "expression", what="starred expression")
                return Prim("tuple", tuple(self.atom(e, scope, lets) for e in elts), loc)
            case ast.Subscript(value=seq, slice=index):
                return self.subscript(node, seq, index, scope, lets)
            case ast.ListComp():
                return self.list_comp(node, scope, lets)
            case ast.List():
                self.fail(node, "expression", what="a list display",)
        what = {ast.GeneratorExp: "a generator expression", ast.Dict: "a dict",
                ast.Set: "a set", ast.JoinedStr: "an f-string", ast.NamedExpr: "`:=`",
                ast.Starred: "a starred expression"}.get(type(node), type(node).__name__)
        self.fail(node, "expression", what=what)

    def expr_body(self, node: ast.expr, scope: Scope) -> Body:
        lets: list = []
        result = self.atom(node, scope, lets)
        return Body(tuple(lets), result)

    def name(self, node: ast.Name, scope: Scope) -> Var:
        found, var = scope.find(node.id)
        stale = self.captures.read(node.id, found, var, scope)
        if stale is not None:
            self.fail(node, "late_binding", what=node.id, name=stale)
        if var is not None:
            return Var(var.name, loc=self.loc(node))
        line = scope.unbound_line(node.id)
        if line is not None:
            self.fail(node, "nonlocal_assign", what=node.id, line=line)
        return Var(node.id, loc=self.loc(node))  # free: resolved at the first call

    def dotted(self, node: ast.Attribute, scope: Scope) -> Var:
        parts, base = [node.attr], node.value
        while isinstance(base, ast.Attribute):
            parts.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or scope.lookup(base.id) is not None:
            self.fail(node, "attribute", what=ast.unparse(node))
        return Var(".".join([base.id, *reversed(parts)]), loc=self.loc(node))

    def call(self, node: ast.Call, scope: Scope, lets: list) -> Prim:
        if node.keywords:
            self.fail(node.keywords[0], "keyword")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(arg, "expression", what="`*args` in a call")
        fn = self.operand(node.func, scope, lets)
        if not isinstance(fn, Var):
            fn = self.emit(lets, fn, node.func)
        args = tuple(self.operand(a, scope, lets) for a in node.args)
        args = tuple(a if isinstance(a, (Var, Const, Lambda)) else self.emit(lets, a, arg)
                     for a, arg in zip(args, node.args))
        return Prim("call", (fn, *args), self.loc(node))

    def compare(self, node: ast.Compare, scope: Scope, lets: list):
        """`a < b < c` is `a < b and b < c`, with `b` evaluated once, as in Python."""
        for op in node.ops:
            if type(op) not in COMPARES:
                self.fail(node, "expression", what=f"the `{COMPARE_NAMES[type(op)]}` comparison")
        left = self.atom(node.left, scope, lets)
        right = self.atom(node.comparators[0], scope, lets)
        first = Prim(COMPARES[type(node.ops[0])], (left, right), self.loc(node))
        if len(node.ops) == 1:
            return first
        rest = ast.Compare(left=node.comparators[0], ops=node.ops[1:],
                           comparators=node.comparators[1:], lineno=node.lineno,
                           col_offset=node.col_offset)
        pred = self.emit(lets, first, node)
        # the rest re-reads `b` as an already-evaluated atom
        then = self.thunk(lambda ls: self.atom_of_compare(rest, right, scope, ls), node)
        other = Lambda((), Body((), Const(False, loc=self.loc(node))), self.loc(node))
        return Prim("cond", (pred, then, other), self.loc(node))

    def atom_of_compare(self, rest: ast.Compare, left_atom, scope: Scope, lets: list):
        right = self.atom(rest.comparators[0], scope, lets)
        value = Prim(COMPARES[type(rest.ops[0])], (left_atom, right), self.loc(rest))
        if len(rest.ops) == 1:
            return self.emit(lets, value, rest)
        tail = ast.Compare(left=rest.comparators[0], ops=rest.ops[1:],
                           comparators=rest.comparators[1:], lineno=rest.lineno,
                           col_offset=rest.col_offset)
        pred = self.emit(lets, value, rest)
        then = self.thunk(lambda ls: self.atom_of_compare(tail, right, scope, ls), rest)
        other = Lambda((), Body((), Const(False, loc=self.loc(rest))), self.loc(rest))
        return self.emit(lets, Prim("cond", (pred, then, other), self.loc(rest)), rest)

    def boolop(self, node: ast.BoolOp, values: list, scope: Scope, lets: list):
        """`a and b` is `b if a else a`; `a or b` is `a if a else b`: Python's short circuit."""
        first = self.atom(values[0], scope, lets)
        if len(values) == 1:
            return first
        rest = self.thunk(lambda ls: self.atom_or_emit(
            self.boolop(node, values[1:], scope, ls), node, ls), node)
        keep = Lambda((), Body((), first), self.loc(node))
        branches = (rest, keep) if isinstance(node.op, ast.And) else (keep, rest)
        return Prim("cond", (first, *branches), self.loc(values[0]))

    def atom_or_emit(self, value, node, lets):
        return value if isinstance(value, (Var, Const)) else self.emit(lets, value, node)

    def subscript(self, node, seq, index, scope: Scope, lets: list) -> Prim:
        if isinstance(index, ast.Slice):
            self.fail(index, "slice")
        if isinstance(index, ast.Tuple):
            self.fail(index, "multi_index", what=ast.unparse(node))
        return Prim("index", (self.atom(seq, scope, lets), self.atom(index, scope, lets)),
                    self.loc(node))

    def list_comp(self, node: ast.ListComp, scope: Scope, lets: list):
        if len(node.generators) != 1 or node.generators[0].is_async:
            self.fail(node, "comprehension")
        gen = node.generators[0]
        inner = Scope(scope, function=True)
        target = gen.target
        source = gen.iter
        if (isinstance(target, ast.Tuple) and isinstance(source, ast.Call)
                and isinstance(source.func, ast.Name) and source.func.id == "zip"
                and scope.lookup("zip") is None and len(source.args) == len(target.elts)
                and all(isinstance(t, ast.Name) for t in target.elts)):
            params = tuple(self.bind(inner, t.id, t) for t in target.elts)
            seqs = tuple(self.atom(a, scope, lets) for a in source.args)
        elif isinstance(target, ast.Name):
            params = (self.bind(inner, target.id, target),)
            seqs = (self.atom(source, scope, lets),)
        else:
            self.fail(target, "comprehension")
        for cond in gen.ifs:
            if len(seqs) > 1:
                self.fail(cond, "comprehension")
            own = Scope(scope, True)  # the predicate binds the loop variable afresh (once)
            pred_params = (self.bind(own, target.id, target),)
            pred = Lambda(pred_params, self.expr_body(cond, own), self.loc(cond))
            seqs = (self.emit(lets, Prim("filter", (pred, *seqs), self.loc(cond)), cond),)
        if gen.ifs and isinstance(node.elt, ast.Name) and node.elt.id == target.id:
            return seqs[0]  # [x for x in xs if p(x)] is the filter itself
        body = Lambda(params, self.expr_body(node.elt, inner), self.loc(node.elt))
        return Prim("map", (body, *seqs), self.loc(node))


def always_returns(stmts: list) -> bool:
    for stmt in stmts:
        if isinstance(stmt, ast.Return):
            return True
        if isinstance(stmt, ast.If) and always_returns(stmt.body) and always_returns(stmt.orelse):
            return True
    return False


def assigned_names(stmts: list) -> list[str]:
    names: list[str] = []
    for stmt in stmts:
        match stmt:
            case ast.Assign(targets=targets):
                for t in targets:
                    names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
            case ast.AugAssign(target=ast.Name(id=name)):
                names.append(name)
            case ast.FunctionDef(name=name):
                names.append(name)
            case ast.If(body=body, orelse=orelse):
                names += assigned_names(body) + assigned_names(orelse)
    return list(dict.fromkeys(names))
