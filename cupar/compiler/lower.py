"""Pass `lower_to_kernels`: typed, inlined IR -> kernel IR (parallel loop nests).

Fusion happens here, by representation: a sequence is either materialised (`Mat`: an array;
`Cols`: the columns of a sequence of tuples) or delayed (`Delayed`: a length and a function
producing the code of element `i`). `map`, `zip`, `indices`, `range`, `gather`, `shift`,
`rotate`, `replicate` and `enumerate` make delayed sequences; consumers (`reduce` and the other
reductions, indexing, another `map`) pull elements through them, so a chain of producers
becomes one loop. A delayed value is materialised when it is used more than once (recomputing
a whole map per use would cost more than the memory traffic), when it is returned, or when it
must be stored (branch results). Materialising several sequences of one length together
makes one loop with several outputs.

Loops at the top of a function are parallel; loops inside them run sequentially per element.
Primitives without a lowering yet raise `NotLowered`; the cpu place then interprets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

from ..errors import Loc
from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var
from .tailcalls import callees
from .kernel_ir import (Alloc, Assign, Break, Combine, Continue, Fail, Filter, If,
                        KernelProgram, KFunction, Loop, Reduce, Scan, SortIndices, Store,
                        While)
from .scalar_code import SCALAR_PRIMS, literal, scalar_expr
from .types import BOOL, INT64, Scalar, Seq, Tuple


class NotLowered(Exception):
    """A construct the kernel lowering does not handle yet (the message says which)."""


@dataclass
class Mat:
    expr: str
    type: Seq
    dims: tuple  # length expressions, outermost first

    @property
    def length(self) -> str:
        return self.dims[0]


@dataclass
class Cols:
    cols: tuple  # sequences, one per tuple field
    type: Seq

    @property
    def length(self) -> str:
        return length_of(self.cols[0])


@dataclass
class Delayed:
    length: str
    elem: Callable  # (index expression, statements list) -> element value
    type: Seq


@dataclass
class Closure:
    lam: Lambda
    env: dict
    name: str


def length_of(seq) -> str:
    return seq.length


def lower_to_kernels(program: Program) -> KernelProgram:
    lowerer = Lowerer(program)
    entry = lowerer.function(program.main)
    others = [f for name, f in lowerer.emitted.items() if name != entry.name]
    return KernelProgram((entry, *others), tuple(lowerer.errors), program.main.result_type,
                         tuple(lowerer.notes))


class Lowerer:
    def __init__(self, program: Program):
        self.program = program
        self.errors: list = []
        self.emitted: dict[str, KFunction] = {}
        self.ids = itertools.count()
        self.depth = 0  # loops we are inside: only depth 0 loops are parallel
        self.notes: list[str] = []  # fusion decisions, for explain

    def fresh(self, base: str) -> str:
        return f"{base}_{next(self.ids)}"

    def fail(self, kind: str, message: str, loc: Loc, hint: str | None = None) -> Fail:
        self.errors.append((kind, message, hint, loc))
        return Fail(kind, len(self.errors) - 1)

    # -- functions ------------------------------------------------------------------------
    def function(self, fn: Function) -> KFunction:
        if fn.name in self.emitted:
            return self.emitted[fn.name]
        params, env = [], {}
        for p in fn.params:
            names, env[p.name] = unflatten_param(p.name, p.type)
            params += names
        self.emitted[fn.name] = None  # a recursive call sees the name
        out: list = []
        saved, self.depth = self.depth, 0
        if fn.name in callees(fn.body):  # tail recursive: the body is a loop
            target = LoopTarget(params, [p.type for p in fn.params])
            env["@" + fn.name] = target  # "@": never a variable's name
            inner: list = []
            result = self.body(fn.body, env, inner)
            if not isinstance(result, TailJump):
                parts = self.flatten(result, fn.result_type, inner)
                inner += [Assign("result_", tuple_expr(parts)), Break()]
            out.append(While(tuple(inner)))
            final = "result_"
        else:
            result = self.body(fn.body, env, out)
            final = tuple_expr(self.flatten(result, fn.result_type, out))
        self.depth = saved
        k = KFunction(fn.name, tuple(params), tuple(out), final)
        self.emitted[fn.name] = k
        return k

    def flatten(self, value, t, out: list) -> list[str]:
        """The scalar and array parts of a value, materialising its sequences together."""
        if isinstance(t, Tuple):
            seqs = iter(self.materialize_many(
                [v for v, e in zip(value, t.elems) if isinstance(e, Seq)], out))
            value = [next(seqs) if isinstance(e, Seq) else v for v, e in zip(value, t.elems)]
            return [p for v, e in zip(value, t.elems) for p in self.flatten(v, e, out)]
        if isinstance(t, Seq):
            mat = self.materialize(value, out)
            if isinstance(mat, Cols):
                return [p for c, e in zip(mat.cols, t.elem.elems)
                        for p in self.flatten(c, Seq(e, t.length), out)]
            return [mat.expr]
        if isinstance(t, Scalar):  # stored values take their static type exactly
            return [f"np.{t.dtype.name}({value})"]
        return [value]

    # -- bodies ---------------------------------------------------------------------------
    def body(self, body: Body, env: dict, out: list):
        uses = count_uses(body)
        for let in body.lets:
            value = self.let_value(let, env, out)
            if isinstance(value, Delayed):
                if delayable(let, uses):
                    self.notes.append(f"{let.var.name}: fused into its consumer")
                else:
                    self.notes.append(f"{let.var.name}: materialised (used "
                                      f"{uses.get(let.var.name, 0)} times, or inside a loop)")
                    value = self.materialize(value, out)
            env[let.var.name] = value
        return self.atom(body.result, env)

    def atom(self, atom, env: dict):
        match atom:
            case Var(name):
                return env[name]
            case Const(value=FnRef(name)):
                return env.get("@" + name, FnRef(name))
            case Const(value=value, type=t):
                return literal(value, t)
            case Lambda():
                return Closure(atom, env, "lambda")
        raise NotLowered(f"atom {atom!r}")

    def let_value(self, let: Let, env: dict, out: list):
        value = let.value
        if isinstance(value, Lambda):
            return Closure(value, env, let.var.name)
        if not isinstance(value, Prim):
            return self.atom(value, env)
        args = [self.atom(a, env) for a in value.args]
        if value.name in SCALAR_PRIMS and all(isinstance(a, str) for a in args):
            expr = scalar_expr(value.name, args, [a.type for a in value.args], let.var.type)
            name = self.fresh(let.var.name)
            out.append(Assign(name, expr))
            return name
        method = getattr(self, "p_" + value.name, None)
        if method is None:
            raise NotLowered(f"primitive `{value.name}`")
        return method(let, value, args, out)

    # -- applying functions ---------------------------------------------------------------
    def apply(self, fn, args: list, out: list, loc: Loc | None = None):
        if isinstance(fn, FnRef):
            return self.call_global(fn.name, args, out)
        if not isinstance(fn, Closure):
            raise NotLowered(f"calling {fn!r}")
        if calls_itself(fn):
            return self.loop_closure(fn, args, out)
        env = dict(fn.env)
        for p, a in zip(fn.lam.params, args):
            env[p.name] = a
        return self.body(fn.lam.body, env, out)

    def loop_closure(self, fn: Closure, args: list, out: list):
        """A tail-recursive local function, applied: `while True` over its parameters."""
        env, names = dict(fn.env), []
        for p in fn.lam.params:
            flat, env[p.name] = unflatten_param(self.fresh(p.name), p.type)
            names += flat
        types = [p.type for p in fn.lam.params]
        self.jump(LoopTarget(names, types), args, out)
        env[fn.name] = LoopTarget(names, types)
        inner: list = []
        value = self.body(fn.lam.body, env, inner)
        t = fn.lam.body.result.type
        if isinstance(value, TailJump):
            inner.append(Continue())
            result = unflatten_value([self.fresh("never") for _ in flat_types(t)], t)
        else:
            parts = self.flatten(value, t, inner)
            final = [self.fresh(fn.name + "_result") for _ in parts]
            inner += [*(Assign(n, v) for n, v in zip(final, parts)), Break()]
            result = unflatten_value(final, t)
        out.append(While(tuple(inner)))
        return result

    def jump(self, target: LoopTarget, args: list, out: list):
        """Assign new values to a loop's parameters (all computed before any is assigned)."""
        flat = []
        for a, t in zip(args, target.types):
            flat += self.flatten(a, t, out)
        temps = [self.fresh(p + "_next") for p in target.params]
        out += [Assign(tmp, v) for tmp, v in zip(temps, flat)]
        out += [Assign(p, tmp) for p, tmp in zip(target.params, temps)]
        return TailJump()

    def call_global(self, name: str, args: list, out: list):
        fn = self.program.functions[name]
        flat = []
        for a, p in zip(args, fn.params):
            flat += self.flatten(a, p.type, out)
        self.function(fn)
        result = self.fresh(name + "_out")
        out.append(Assign(result, f"{name}({', '.join(flat)})"))
        return unflatten_result(result, fn.result_type)

    # -- sequences: producers -------------------------------------------------------------
    def same_lengths(self, name: str, seqs, loc: Loc, out: list) -> None:
        for other in seqs[1:]:
            message = f"{name} got sequences of different lengths"
            out.append(If(f"{length_of(seqs[0])} != {length_of(other)}",
                          (self.fail("value", message, loc),), ()))

    def p_map(self, let, prim, args, out):
        fn, seqs = args[0], args[1:]
        t = let.var.type
        self.same_lengths("map", seqs, prim.loc, out)

        def elem(i, stmts):
            return self.apply(fn, [self.element(s, i, stmts) for s in seqs], stmts)
        return Delayed(length_of(seqs[0]), elem, t)

    def p_zip(self, let, prim, args, out):
        self.same_lengths("zip", args, prim.loc, out)
        return Cols(tuple(args), let.var.type)

    def p_unzip(self, let, prim, args, out):
        return self.materialize(args[0], out).cols

    def p_indices(self, let, prim, args, out):
        return Delayed(length_of(args[0]), lambda i, stmts: i, let.var.type)

    def p_range(self, let, prim, args, out):
        if len(args) == 1:
            return Delayed(f"max(np.int64({args[0]}), 0)", lambda i, stmts: i, let.var.type)
        if len(args) == 2:
            return self.p_bounded_range(let, prim, args, out)
        lo, hi, step = (self.emit(out, f"np.int64({a})") for a in args)
        out.append(If(f"{step} == 0", (self.fail("value", "range() step must not be zero",
                                                  prim.loc),), ()))
        return Delayed(f"len(range({lo}, {hi}, {step}))", lambda i, stmts: f"({lo} + {i} * {step})",
                       let.var.type)

    def p_bounded_range(self, let, prim, args, out):
        lo = self.fresh("lo")
        out.append(Assign(lo, f"np.int64({args[0]})"))
        return Delayed(f"max(np.int64({args[1]}) - {lo}, 0)",
                       lambda i, stmts: f"({lo} + {i})", let.var.type)

    def p_gather(self, let, prim, args, out):
        xs, idx = args
        return Delayed(length_of(idx), lambda i, stmts: self.element(
            xs, self.checked(self.element(idx, i, stmts), xs, stmts, prim.loc, "gather"), stmts),
            let.var.type)

    def p_replicate(self, let, prim, args, out):
        x, n = args
        return Delayed(f"max(np.int64({n}), 0)", lambda i, stmts: x, let.var.type)

    def p_rotate(self, let, prim, args, out):
        xs, offset = args
        n = length_of(xs)
        return Delayed(n, lambda i, stmts: self.element(xs, f"(({i} + {offset}) % {n})", stmts),
                       let.var.type)

    def p_enumerate(self, let, prim, args, out):
        xs = args[0]
        return Cols((Delayed(length_of(xs), lambda i, stmts: i, Seq(INT64, None)), xs),
                    let.var.type)

    # -- sequences: consumers -------------------------------------------------------------
    def p_index(self, let, prim, args, out):
        xs, i = args
        if isinstance(xs, tuple):
            return xs[int(prim.args[1].value)]
        return self.element(xs, self.checked(i, xs, out, prim.loc, "sequence"), out)

    def p_len(self, let, prim, args, out):
        return length_of(args[0])

    def p_reduce(self, let, prim, args, out):
        fn, xs, init = args
        return self.reduce(xs, init, lambda a, b, stmts: self.apply(fn, [a, b], stmts),
                           let.var.type, out)

    def p_sum(self, let, prim, args, out):
        t = let.var.type
        zero = literal(0, t)
        return self.reduce(args[0], zero, lambda a, b, stmts: self.emit(
            stmts, f"np.{t.dtype.name}({a} + {b})"), t, out)

    def p_any(self, let, prim, args, out):
        return self.reduce(args[0], "False", lambda a, b, s: self.emit(s, f"({a} or {b})"),
                           BOOL, out)

    def p_all(self, let, prim, args, out):
        return self.reduce(args[0], "True", lambda a, b, s: self.emit(s, f"({a} and {b})"),
                           BOOL, out)

    def p_min(self, let, prim, args, out):
        return self.extremum(let, prim, args, out, "<")

    def p_max(self, let, prim, args, out):
        return self.extremum(let, prim, args, out, ">")

    def extremum(self, let, prim, args, out, op: str):
        xs = args[0]
        first, rest = self.split_first(xs, prim, out, f"{prim.name}() of an empty sequence")
        return self.reduce(rest, first, lambda a, b, s: self.emit(
            s, f"({b} if {b} {op} {a} else {a})"), let.var.type, out)

    def p_argmin(self, let, prim, args, out):
        return self.arg_extremum(let, prim, args, out, "<")

    def p_argmax(self, let, prim, args, out):
        return self.arg_extremum(let, prim, args, out, ">")

    def arg_extremum(self, let, prim, args, out, op: str):
        xs = args[0]
        pairs = Cols((xs, Delayed(length_of(xs), lambda i, s: i, Seq(INT64, None))),
                     Seq(Tuple((xs.type.elem, INT64)), None))
        first, rest = self.split_first(pairs, prim, out, f"{prim.name}() of an empty sequence")

        def better(a, b, s):
            take = self.emit(s, f"({b[0]} {op} {a[0]} or ({b[0]} == {a[0]} and {b[1]} < {a[1]}))")
            return (self.emit(s, f"({b[0]} if {take} else {a[0]})"),
                    self.emit(s, f"({b[1]} if {take} else {a[1]})"))
        return self.reduce(rest, first, better, Tuple((xs.type.elem, INT64)), out)[1]

    def split_first(self, xs, prim, out, message: str):
        n = length_of(xs)
        out.append(If(f"{n} == 0", (self.fail("value", message, prim.loc,
                                              "check len(xs) > 0 first"),), ()))
        first = self.element(xs, "0", out)
        return first, Delayed(f"({n} - 1)", lambda i, s: self.element(xs, f"({i} + 1)", s),
                              xs.type)

    # -- reductions -----------------------------------------------------------------------
    def reduce(self, xs, init, combine, t, out: list):
        """acc = init; acc = combine(acc, x) for every x: one Reduce statement."""
        fields = list(t.elems) if isinstance(t, Tuple) else [t]
        if not all(isinstance(f, Scalar) for f in fields):
            raise NotLowered("reductions over sequences")
        i = self.fresh("i")
        body: list = []
        self.depth += 1
        elem = self.element(xs, i, body)
        left = tuple(self.fresh("l") for _ in fields)
        right = tuple(self.fresh("r") for _ in fields)
        cbody: list = []
        combined = combine(pack(left, t), pack(right, t), cbody)
        self.depth -= 1
        acc = tuple(self.fresh("acc") for _ in fields)
        out.append(Reduce(i, length_of(xs), tuple(body), tuple(unpack(elem, t)), acc,
                          typed(unpack(init, t), fields), tuple(f.dtype.name for f in fields),
                          Combine(left, right, tuple(cbody), tuple(unpack(combined, t))),
                          parallel=self.depth == 0))
        return pack(acc, t)

    # -- scans, filters, scatters, sorts --------------------------------------------------
    def scan(self, xs, init, reverse: bool, combine, t, out: list) -> Mat | Cols:
        fields = list(t.elems) if isinstance(t, Tuple) else [t]
        if not all(isinstance(f, Scalar) for f in fields):
            raise NotLowered("scans over sequences")
        i, body = self.fresh("i"), []
        self.depth += 1
        elem = self.element(xs, i, body)
        left = tuple(self.fresh("l") for _ in fields)
        right = tuple(self.fresh("r") for _ in fields)
        cbody: list = []
        combined = combine(pack(left, t), pack(right, t), cbody)
        self.depth -= 1
        names = tuple(self.fresh("scan") for _ in fields)
        out.append(Scan(i, length_of(xs), tuple(body), tuple(unpack(elem, t)), names,
                        tuple(f.dtype.name for f in fields),
                        None if init is None else typed(unpack(init, t), fields), reverse,
                        Combine(left, right, tuple(cbody), tuple(unpack(combined, t))),
                        parallel=self.depth == 0))
        return self.arrays(names, t, length_of(xs))

    def arrays(self, names, t, n: str):
        if isinstance(t, Tuple):
            return Cols(tuple(Mat(a, Seq(f, None), (n,)) for a, f in zip(names, t.elems)),
                        Seq(t, None))
        return Mat(names[0], Seq(t, None), (n,))

    def p_scan(self, let, prim, args, out):
        return self.scan_prim(args[0], args[1], None, False, let, out)

    def p_rscan(self, let, prim, args, out):
        return self.scan_prim(args[0], args[1], None, True, let, out)

    def p_exclusive_scan(self, let, prim, args, out):
        return self.scan_prim(args[0], args[2], args[1], False, let, out)

    def p_exclusive_rscan(self, let, prim, args, out):
        return self.scan_prim(args[0], args[2], args[1], True, let, out)

    def scan_prim(self, fn, xs, init, reverse, let, out):
        def combine(a, b, stmts):  # reverse scans combine element-first, as the reference
            return self.apply(fn, [b, a] if reverse else [a, b], stmts)
        return self.scan(xs, init, reverse, combine, let.var.type.elem, out)

    def p_filter(self, let, prim, args, out):
        fn, xs = args
        t = let.var.type.elem
        fields = list(t.elems) if isinstance(t, Tuple) else [t]
        if not all(isinstance(f, Scalar) for f in fields):
            raise NotLowered("filters of sequences")
        i, body = self.fresh("i"), []
        self.depth += 1
        elem = self.element(xs, i, body)
        keep = self.apply(fn, [elem], body)
        self.depth -= 1
        names = tuple(self.fresh("kept") for _ in fields)
        out.append(Filter(i, length_of(xs), tuple(body), keep, tuple(unpack(elem, t)), names,
                          tuple(f.dtype.name for f in fields), parallel=self.depth == 0))
        return self.arrays(names, t, f"{names[0]}.shape[0]")

    def p_scatter(self, let, prim, args, out):
        src, idx, dst = args
        return self.scatter(src, idx, dst, prim, out)

    def p_permute(self, let, prim, args, out):
        xs, idx = args
        return self.scatter(xs, idx, xs, prim, out)

    def p_update(self, let, prim, args, out):
        dst, updates = args
        pairs = self.materialize(updates, out)
        return self.scatter(pairs.cols[1], pairs.cols[0], dst, prim, out)

    def scatter(self, src, idx, dst, prim, out):
        """A copy of dst, then one parallel loop writing src[k] at idx[k]."""
        if not isinstance(dst.type.elem, Scalar):
            raise NotLowered("scatter of tuples or rows")
        self.same_lengths(prim.name, [src, idx], prim.loc, out)
        base = self.materialize(dst, out)
        copy = self.fresh("scattered")
        out.append(Assign(copy, f"{base.expr}.copy()"))
        result = Mat(copy, base.type, (f"{copy}.shape[0]",))
        k, body = self.fresh("k"), []
        self.depth += 1
        j = self.checked(self.element(idx, k, body), result, body, prim.loc, prim.name)
        body.append(Store(copy, j, self.element(src, k, body)))
        self.depth -= 1
        out.append(Loop(k, length_of(idx), tuple(body), parallel=self.depth == 0))
        return result

    def p_shift(self, let, prim, args, out):
        xs, offset, default = args
        n = length_of(xs)

        def elem(i, stmts):
            j, v = self.fresh("j"), self.fresh("shifted")
            stmts.append(Assign(j, f"{i} + {offset}"))
            inside: list = []
            inside.append(Assign(v, self.element(xs, j, inside)))
            stmts.append(If(f"0 <= {j} < {n}", tuple(inside), (Assign(v, default),)))
            return v
        if not isinstance(xs.type.elem, Scalar):
            raise NotLowered("shift of tuples or rows")
        return Delayed(n, elem, let.var.type)

    def p_sort(self, let, prim, args, out):
        order = comparison_order(prim.args[0])
        if order is None or not isinstance(let.var.type.elem, Scalar):
            return self.merge_sort(args[0], args[1], let, out)
        xs = self.materialize(args[1], out)
        name = self.fresh("sorted")
        expr = f"np.sort({xs.expr})" + ("[::-1].copy()" if order == "descending" else "")
        out.append(Assign(name, expr))
        return Mat(name, let.var.type, (f"{name}.shape[0]",))

    def merge_sort(self, less, xs, let, out):
        """A stable merge sort of the indices by the user's comparison, then a gather."""
        xs = self.materialize(xs, out)
        perm, left, right, body = self.fresh("perm"), self.fresh("a"), self.fresh("b"), []
        self.depth += 1
        result = self.apply(less, [self.element(xs, left, body),
                                   self.element(xs, right, body)], body)
        self.depth -= 1
        out.append(SortIndices(perm, length_of(xs), left, right, tuple(body), result,
                               parallel=self.depth == 0))
        return Delayed(length_of(xs), lambda i, stmts: self.element(xs, f"{perm}[{i}]", stmts),
                       let.var.type)

    # -- elements and materialisation -----------------------------------------------------
    def element(self, xs, i: str, out: list):
        match xs:
            case Mat(expr, t, dims):
                if isinstance(t.elem, Seq):
                    return Mat(f"{expr}[{i}]", t.elem, dims[1:])
                return f"{expr}[{i}]"
            case Cols(cols):
                return tuple(self.element(c, i, out) for c in cols)
            case Delayed(_, elem):
                self.depth += 1
                value = elem(i, out)
                self.depth -= 1
                return value
        raise NotLowered(f"element of {xs!r}")

    def checked(self, i: str, xs, out: list, loc: Loc, what: str) -> str:
        """Python's index rule: negative counts from the end; outside is an error."""
        n, j = length_of(xs), self.fresh("j")
        out.append(Assign(j, f"({i} + {n} if {i} < 0 else {i})"))
        message = f"{what} index is out of range"
        # after a flagged failure inside a parallel loop, read a harmless element
        out.append(If(f"{j} < 0 or {j} >= {n}",
                      (self.fail("index", message, loc), Assign(j, "0")), ()))
        return j

    def materialize(self, xs, out: list):
        if isinstance(xs, (Mat, Cols)) and not any(
                isinstance(c, Delayed) for c in getattr(xs, "cols", ())):
            return xs
        return self.materialize_many([xs], out)[0]

    def materialize_many(self, seqs: list, out: list) -> list:
        """Store delayed sequences; those of one length share one loop (one kernel)."""
        loops: dict[str, tuple[str, list]] = {}
        results = []
        for xs in seqs:
            results.append(self.store(xs, loops, out))
        for n, (i, body) in loops.items():
            out.append(Loop(i, n, tuple(body), parallel=self.depth == 0))
        return results

    def store(self, xs, loops: dict, out: list):
        if isinstance(xs, Mat):
            return xs
        if isinstance(xs, Cols):
            return Cols(tuple(self.store(c, loops, out) for c in xs.cols), xs.type)
        n = xs.length
        if n not in loops:
            loops[n] = (self.fresh("i"), [])
        i, body = loops[n]
        self.depth += 1
        value = xs.elem(i, body)
        self.depth -= 1
        return self.write(value, xs.type.elem, n, i, body, out)

    def write(self, value, t, n: str, i: str, body: list, out: list):
        if isinstance(t, Tuple):
            cols = tuple(self.write(v, e, n, i, body, out) for v, e in zip(value, t.elems))
            return Cols(cols, Seq(t, None))
        if isinstance(t, Seq):
            if not isinstance(value, (Mat, Delayed)) or i in value.length:
                raise NotLowered("rows whose length depends on the row")
            row = value.length
            name = self.fresh("rows")
            base = base_scalar(t)
            if isinstance(t.elem, Seq):
                raise NotLowered("sequences nested three deep")
            out.append(Alloc(name, base.dtype.name, (n, row)))
            k = self.fresh("k")
            inner: list = []
            inner.append(Store(f"{name}[{i}]", k, self.element(value, k, inner)))
            body.append(Loop(k, row, tuple(inner), parallel=False))
            return Mat(name, Seq(t, None), (n, row))
        name = self.fresh("out")
        out.append(Alloc(name, t.dtype.name, (n,)))
        body.append(Store(name, i, value))
        return Mat(name, Seq(t, None), (n,))

    def emit(self, out: list, expr: str) -> str:
        name = self.fresh("v")
        out.append(Assign(name, expr))
        return name

    # -- control --------------------------------------------------------------------------
    def p_cond(self, let, prim, args, out):
        pred, then, other = args
        t = let.var.type
        names = None
        branches = []
        for branch in (then, other):
            stmts: list = []
            value = self.body(branch.lam.body, dict(branch.env), stmts)
            if isinstance(value, TailJump):
                branches.append(tuple(stmts) + (Continue(),))
                continue
            parts = self.flatten(value, t, stmts)
            names = names or [self.fresh(let.var.name) for _ in parts]
            stmts += [Assign(n, p) for n, p in zip(names, parts)]
            branches.append(tuple(stmts))
        out.append(If(pred, *branches))
        if names is None:  # both branches jump back: the value is never used
            return TailJump()
        return unflatten_value(names, t)

    def p_call(self, let, prim, args, out):
        fn, rest = args[0], args[1:]
        if isinstance(fn, LoopTarget):
            return self.jump(fn, rest, out)
        return self.apply(fn, rest, out, prim.loc)

    def p_max_bound_el(self, let, prim, args, out):
        return scalar_expr("max_bound", ["0"], [let.var.type], let.var.type)

    def p_min_bound_el(self, let, prim, args, out):
        return scalar_expr("min_bound", ["0"], [let.var.type], let.var.type)

    def p_cast_to_el(self, let, prim, args, out):
        return self.emit(out, f"np.{let.var.type.dtype.name}({args[0]})")

    def p_tuple(self, let, prim, args, out):
        return tuple(args)

    def p_unpack(self, let, prim, args, out):
        return args[0]


class TailJump:
    """The value of a tail call to the enclosing loop: control goes back to its top."""


class LoopTarget:
    """The loop a tail-recursive function became: its flat parameter names and types."""

    def __init__(self, params: list[str], types: list):
        self.params, self.types = params, types


def comparison_order(fn) -> str | None:
    """'ascending' for cmp_lt-like comparisons, 'descending' for cmp_gt-like, else None."""
    if not (isinstance(fn, Lambda) and len(fn.params) == 2 and len(fn.body.lets) == 1):
        return None
    (let,) = fn.body.lets
    value, (a, b) = let.value, (p.name for p in fn.params)
    if not (isinstance(value, Prim) and all(isinstance(x, Var) for x in value.args)):
        return None
    names = tuple(x.name for x in value.args)
    if (value.name, names) in (("cmp_lt", (a, b)), ("cmp_gt", (b, a))):
        return "ascending"
    if (value.name, names) in (("cmp_gt", (a, b)), ("cmp_lt", (b, a))):
        return "descending"
    return None


def calls_itself(fn: Closure) -> bool:
    from .ir import free_vars
    return fn.name in free_vars(fn.lam)


def delayable(let: Let, uses: dict) -> bool:
    if isinstance(let.value, Prim) and let.value.name in ("indices", "range", "bounded_range",
                                                          "replicate", "zip", "enumerate"):
        return True
    return uses.get(let.var.name, 0) == 1


def count_uses(body: Body) -> dict[str, int]:
    uses: dict[str, int] = {}

    def visit(node, weight: int):
        match node:
            case Var(name):
                uses[name] = uses.get(name, 0) + weight
            case Prim(_, args):
                for a in args:
                    visit(a, weight)
            case Lambda(_, inner):  # a use inside a lambda may run once per element
                for let in inner.lets:
                    visit(let.value, 2)
                visit(inner.result, 2)
    for let in body.lets:
        visit(let.value, 1)
    visit(body.result, 2)  # returned values are stored
    return uses


def base_scalar(t) -> Scalar:
    while isinstance(t, Seq):
        t = t.elem
    return t


def typed(exprs: list, fields: list) -> tuple:
    """Initial values cast to the accumulator's type, so Numba never widens an accumulator."""
    return tuple(f"np.{f.dtype.name}({e})" for e, f in zip(exprs, fields))


def pack(names, t):
    return tuple(names) if isinstance(t, Tuple) else names[0]


def unpack(value, t) -> list:
    return list(value) if isinstance(t, Tuple) else [value]


def tuple_expr(parts: list[str]) -> str:
    return f"({', '.join(parts)},)"


def unflatten_param(name: str, t):
    """The flat parameter names of a value of type `t`, and the structured value."""
    if isinstance(t, Tuple):
        names, parts = [], []
        for k, e in enumerate(t.elems):
            n, v = unflatten_param(f"{name}_{k}", e)
            names += n
            parts.append(v)
        return names, tuple(parts)
    if isinstance(t, Seq):
        if isinstance(base_elem(t), Tuple):
            if isinstance(t.elem, Seq):
                raise NotLowered("sequences of sequences of tuples")
            names, cols = [], []
            for k, e in enumerate(t.elem.elems):
                n, v = unflatten_param(f"{name}_{k}", Seq(e, t.length))
                names += n
                cols.append(v)
            return names, Cols(tuple(cols), t)
        dims = tuple(f"{name}.shape[{k}]" for k in range(depth(t)))
        return [name], Mat(name, t, dims)
    return [name], name


def unflatten_result(name: str, t):
    count = itertools.count()
    return _rebuild(t, lambda: f"{name}[{next(count)}]")


def unflatten_value(names: list[str], t):
    it = iter(names)
    return _rebuild(t, lambda: next(it))


def _rebuild(t, take):
    if isinstance(t, Tuple):
        return tuple(_rebuild(e, take) for e in t.elems)
    if isinstance(t, Seq):
        if isinstance(t.elem, Tuple):
            return Cols(tuple(_rebuild(Seq(e, t.length), take) for e in t.elem.elems), t)
        name = take()
        return Mat(name, t, tuple(f"{name}.shape[{k}]" for k in range(depth(t))))
    return take()


def flat_types(t) -> list:
    if isinstance(t, Tuple):
        return [f for e in t.elems for f in flat_types(e)]
    if isinstance(t, Seq) and isinstance(t.elem, Tuple):
        return [f for e in t.elem.elems for f in flat_types(Seq(e, t.length))]
    return [t]


def base_elem(t):
    while isinstance(t, Seq):
        t = t.elem
    return t


def depth(t) -> int:
    n = 0
    while isinstance(t, Seq):
        n, t = n + 1, t.elem
    return n
