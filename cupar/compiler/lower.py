"""Pass `lower_to_kernels`: typed, inlined IR -> kernel IR (parallel loop nests).

Fusion happens here, by representation: a sequence is either materialised (`Mat`: an array;
`Cols`: the columns of a sequence of tuples) or delayed (`Delayed`: a length and a function
producing the code of element `i`). `map`, `zip`, `indices`, `range`, `gather`, `shift`,
`rotate`, `replicate` and `enumerate` make delayed sequences; consumers (`reduce` and the other
reductions, indexing, another `map`) pull elements through them, so a chain of producers
becomes one loop. A delayed value is materialised when it is used more than once, unless it
is a map of cheap arithmetic over few arrays, which each consumer recomputes for less memory
traffic (`arrays_recomputing_reads`); when it is returned; or when it must be stored (branch
results). Materialising several sequences of one length together
makes one loop with several outputs.

Loops at the top of a function are parallel; loops inside them run sequentially per element.
Primitives without a lowering yet raise `NotLowered`; the cpu place then interprets.
"""

from __future__ import annotations

import itertools
import re

from ..errors import Loc
from .dead_values import drop_dead_values
from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var
from .tailcalls import callees
from .kernel_ir import (Alloc, Assign, Break, Continue, Fail, If,
                        KernelProgram, KFunction, Loop, Store,
                        While)
from .lower_matrices import MatrixRules, drop_unused_products
from .lower_sequences import SequenceRules
from .lower_values import (Closure, Cols, Delayed, Mat, NotLowered, base_scalar, flat_types,
                           length_of, tuple_expr, unflatten_param,
                           unflatten_value)
from .scalar_code import MATH, SCALAR_PRIMS, literal, scalar_code, scalar_expr
from .types import Scalar, Seq, Tuple
from .inner_loops import (hoist_range_flags, rows_in_place, unsigned_inner_reads,
                          unswitch_range_checks)
from .siblings import IDENT, assigned, fuse_sibling_folds


def lower_to_kernels(program: Program) -> KernelProgram:
    dropped: list[str] = []
    program = program.replace_functions({name: drop_dead_values(fn, dropped)
                                         for name, fn in program.functions.items()})
    lowerer = Lowerer(program)
    lowerer.notes += [f"{name}: never computed (nothing reads it)" for name in reversed(dropped)]
    entry = lowerer.function(program.main)
    others = [f for name, f in lowerer.emitted.items() if name != entry.name]
    kernels = KernelProgram((entry, *others), tuple(lowerer.errors), program.main.result_type,
                            tuple(lowerer.notes))
    kernels = drop_unused_products(kernels, lowerer.eager)
    kernels = fuse_sibling_folds(kernels)
    flags = frozenset(lowerer.range_flags)
    kernels = unswitch_range_checks(
        hoist_range_flags(kernels, flags, frozenset(lowerer.divided_once)), flags)
    kernels = unsigned_inner_reads(kernels, frozenset(lowerer.checked_indices))
    return rows_in_place(kernels)


class Lowerer(SequenceRules, MatrixRules):
    def __init__(self, program: Program):
        self.program = program
        self.errors: list = []
        self.emitted: dict[str, KFunction] = {}
        self.ids = itertools.count()
        self.depth = 0  # loops we are inside: only depth 0 loops are parallel
        self.notes: list[str] = []  # fusion decisions, for explain
        self.recomputed: dict[int, tuple] = {}  # maps each consumer recomputes, by id:
        # (the Delayed, the arrays it reads)
        # for inner_loops.py: names of range flags and of checked indices; and the indices
        # of index ranges read, unsigned everywhere (no negative-index wrap, so LLVM sees
        # contiguous reads); the index expressions of index ranges: (start, length)
        self.range_flags: set[str] = set()
        # assignments that divide by a positive divisor (`x // max(m, 1)`): safe to move
        # out of a loop with the flags that read them
        self.divided_once: set[str] = set()
        self.range_of_checked: dict[str, str] = {}  # checked index -> its range element
        self.range_elements: dict[str, tuple[str, str]] = {}
        # index range elements (and shifts of them) as (position, offset): element = p + o
        self.range_positions: dict[str, tuple[str, str]] = {}
        self.checked_indices: set[str] = set()
        self.unsigned_reads: set[str] = set()
        self.eager: dict = {}  # matrix products stored where they stand, by array name
        self.epilogue = None  # a consumer being fused into a product (lower_matrices.py)

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
    def body(self, body: Body, env: dict, out: list, stored: bool = True):
        """Lower `body`'s lets into `out` and return its result's value. A function's result
        is stored (`stored`); a lambda's result that is a row of scalar code over rows
        (`map(lambda v: v * s, row)`) stays delayed for the caller, which may read a single
        element of it (a join's) rather than store the row first."""
        uses, direct = count_uses(body), direct_uses(body)
        if not stored and scalar_row_result(body):
            uses[body.result.name] -= 1
        if self.epilogue is not None and isinstance(body.result, Var):
            uses[body.result.name] -= 1  # rows fused into a product stay delayed (see
            # lower_matrices.py: the attempt is dropped unless all is scalar code)
        for let in body.lets:
            value = self.let_value(let, env, out)
            if isinstance(value, Delayed):
                if uses.get(let.var.name, 0) == 0:
                    self.notes.append(f"{let.var.name}: never computed (nothing reads its "
                                      "elements)")
                elif delayable(let, uses) or isinstance(value.swapped, Mat):  # (index swaps)
                    self.notes.append(f"{let.var.name}: fused into its consumer")
                elif value.joined is not None and (isinstance(value.joined[0], Mat) or (
                        isinstance(value.joined[0], Delayed) and value.joined[0].stored)):
                    # a stored array read flat: index arithmetic, never worth a copy
                    self.notes.append(f"{let.var.name}: read in place by its consumers")
                elif (reads := arrays_recomputing_reads(let, uses, direct, env,
                                                        self.recomputed)) is not None:
                    self.recomputed[id(value)] = (value, reads)
                    self.notes.append(f"{let.var.name}: recomputed in each of its "
                                      f"{uses[let.var.name]} consumers (cheap arithmetic on "
                                      "arrays it reads: less memory traffic than storing it)")
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
            self.offset_range_element(name, value.name, args, let.var.type)
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
        return self.body(fn.lam.body, env, out, stored=False)

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
        # an array of the result gets a name of its own: `element` makes `m[i]` of a matrix
        # `m` into `m[.., i]`, which for the field `result[k]` would index the tuple
        parts = []
        for k, t in enumerate(flat_types(fn.result_type)):
            if isinstance(t, Seq):
                parts.append(self.fresh(f"{name}_field"))
                out.append(Assign(parts[-1], f"{result}[{k}]"))
            else:
                parts.append(f"{result}[{k}]")
        return unflatten_value(parts, fn.result_type)

    # -- elements and materialisation -----------------------------------------------------
    def element(self, xs, i: str, out: list):
        match xs:
            case Mat(expr, t, dims):
                if i in self.unsigned_reads:
                    i = f"np.uint64({i})"
                # a row of a matrix is `m[i]`; an element of it `m[i, j]`, not `m[i][j]`,
                # for which Numba makes a view per element
                at = f"{expr[:-1]}, {i}]" if expr.endswith("]") else f"{expr}[{i}]"
                return Mat(at, t.elem, dims[1:]) if isinstance(t.elem, Seq) else at
            case Cols(cols):
                return tuple(self.element(c, i, out) for c in cols)
            case Delayed(_, elem):
                self.depth += 1
                value = elem(i, out)
                self.depth -= 1
                return value
        raise NotLowered(f"element of {xs!r}")

    def checked(self, i: str, xs, out: list, loc: Loc, what: str) -> str:
        """Python's index rule: negative counts from the end; outside is an error. An index
        of an index range (`range_elements`) is tested only when a flag says the range is
        not wholly inside; the flag, the same for the whole range, is moved out of the
        loops around it and the loop made twice (inner_loops.py)."""
        n, j = length_of(xs), self.fresh("j")
        wrap = Assign(j, f"({i} + {n} if {i} < 0 else {i})")
        message = f"{what} index is out of range"
        # one unsigned comparison tests both ends (it costs a random gather 1.4x otherwise);
        # after a flagged failure inside a parallel loop, read a harmless element
        test = If(f"np.uint64({j}) >= np.uint64({n})",
                  (self.fail("index", message, loc), Assign(j, "0")), ())
        if i not in self.range_elements:
            out += [wrap, test]
        else:
            start, length = self.range_elements[i]
            inside = self.fresh("inside")
            out += [Assign(inside, f"({length} == 0 or (0 <= {start} and "
                                   f"{start} + {length} <= {n}))"),
                    Assign(j, i), If(f"not {inside}", (wrap, test), ())]
            self.range_flags.add(inside)
            self.unsigned_reads.add(j)
            self.range_of_checked[j] = i
        self.checked_indices.add(j)
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
        if xs.stored is not None:
            return xs.stored
        if xs.reshapes is not None and self.depth == 0:
            matrix, k = xs.reshapes
            name = self.fresh("rows")
            out.append(Assign(name, f"cupar_reshaped({matrix.expr}, {xs.length}, {k})"))
            return Mat(name, xs.type, (xs.length, k))
        if isinstance(xs.type.elem, Seq) and (fused := self.fused_product(xs, out)):
            return fused
        n = xs.length
        if n not in loops:
            loops[n] = (self.fresh("i"), [])
        i, body = loops[n]
        self.depth += 1
        value = xs.elem(i, body)
        self.depth -= 1
        return self.write(value, xs.type.elem, n, i, body, out)

    def write(self, value, t, n: str, i: str, body: list, out: list, column: bool = False):
        if isinstance(t, Tuple):
            cols = tuple(self.write(v, e, n, i, body, out, column=True)
                         for v, e in zip(value, t.elems))
            return Cols(cols, Seq(t, None))
        if isinstance(t, Seq):
            if not isinstance(value, (Mat, Delayed)) or i in value.length:
                raise NotLowered("rows whose length depends on the row")
            # (computed before the loop, the length even no rows have: the interpreter's too)
            row = self.hoisted_length(value.length, body, i, out)
            name = self.fresh("rows")
            base = base_scalar(t)
            if isinstance(t.elem, Seq):  # rows of rows: an array of three or more axes
                dims = [n, row]
                self.fill(name, value, t, [i], dims, body, body, out)
                out.append(Alloc(name, base.dtype.name, tuple(dims)))
                return Mat(name, Seq(t, None), tuple(dims))
            out.append(Alloc(name, base.dtype.name, (n, row)))
            k = self.fresh("k")
            inner: list = []
            # (`rows[i, k]`: `rows[i][k]` makes a view of the row per element)
            inner.append(Store(name, f"{i}, {k}", self.element(value, k, inner)))
            loop = Loop(k, row, tuple(inner), parallel=False)
            body.append(self.segment_loop(value, name, i, row, loop) or loop)
            return Mat(name, Seq(t, None), (n, row))
        if column and (shifted := self.shifted_positions(value, t, n, i, body, out)):
            return shifted
        name = self.fresh("out")
        out.append(Alloc(name, t.dtype.name, (n,)))
        body.append(Store(name, i, value))
        return Mat(name, Seq(t, None), (n,))

    def segment_loop(self, value, name: str, i: str, row: str, loop: Loop):
        """A row that is a slice of joined rows, `split(join(xss), k)[i]`, stored as whole
        rows of xss, one loop per axis (where the slice starts at a row of xss and holds
        whole rows; `loop`, which divides per element, otherwise): an im2col's patches."""
        if not isinstance(value, Delayed) or value.segment is None:
            return None
        xss, m, start = value.segment
        a, c, first = self.fresh("a"), self.fresh("c"), self.fresh("first")
        rows: list = [Assign(first, f"{start} // {m}")]
        per_row: list = []
        source = self.element(xss, f"({first} + {a})", per_row)
        if not isinstance(source, (Mat, Delayed)):
            return None
        cells: list = []
        cells.append(Store(name, f"{i}, {a} * {m} + {c}", self.element(source, c, cells)))
        per_row.append(Loop(c, m, tuple(cells), parallel=False))
        rows.append(Loop(a, f"{row} // {m}", tuple(per_row), parallel=False))
        return If(f"{m} > 0 and {start} % {m} == 0 and {row} % {m} == 0", tuple(rows),
                  (loop,))

    def fill(self, name: str, value, t, index: list, dims: list, body: list, scope: list,
             out: list):
        """Store the sequence `value` (of type `t`) at `name[index]`, one loop per axis, as
        `name[i, k, l] = ...`. Each axis's length is the same for every element, computed
        before the loops (`hoisted_length`, from the statements of the loops around it,
        `scope`), and appended to `dims` as it is met."""
        k, inner = self.fresh("k"), []
        self.depth += 1
        elem = self.element(value, k, inner)
        self.depth -= 1
        at = [*index, k]
        if isinstance(t.elem, Seq):
            if not isinstance(elem, (Mat, Delayed)) or any(j in elem.length for j in at):
                raise NotLowered("rows whose length depends on the row")
            if len(dims) == len(at):
                dims.append(self.hoisted_length(elem.length, scope + inner, tuple(at), out))
            self.fill(name, elem, t.elem, at, dims, inner, scope + inner, out)
        else:
            inner.append(Store(name, ", ".join(at), elem))
        body.append(Loop(k, dims[len(index)], tuple(inner), parallel=False))

    def hoisted_length(self, length: str, body: list, i, out: list) -> str:
        """The rows' length as an expression valid before the loop that fills them: the
        element code's assignments it reads (`n = 2 * len(r)`, the same for every row) are
        copied out under fresh names. Lengths that read the row index or anything assigned
        less simply stay NotLowered."""
        indices = (i,) if isinstance(i, str) else i  # (the loop indices of deeper rows)
        simple = {s.target: s.expr for s in body if isinstance(s, Assign)}
        anywhere = assigned(tuple(body))
        renamed: dict[str, str] = {}

        def hoist(expr: str) -> str:
            for name in set(IDENT.findall(expr)) & anywhere:
                if name in indices or name not in simple:
                    raise NotLowered("rows whose length depends on the row")
                if name not in renamed:
                    renamed[name] = self.fresh("row_length")
                    out.append(Assign(renamed[name], hoist(simple[name])))
                expr = re.sub(rf"\b{name}\b", renamed[name], expr)
            if any(re.search(rf"\b{j}\b", expr) for j in indices):
                raise NotLowered("rows whose length depends on the row")
            return expr
        return hoist(length)

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


def calls_itself(fn: Closure) -> bool:
    from .ir import free_vars
    return fn.name in free_vars(fn.lam)


def delayable(let: Let, uses: dict) -> bool:
    if isinstance(let.value, Prim) and let.value.name in ("indices", "range", "bounded_range",
                                                          "replicate", "zip", "enumerate"):
        return True
    return uses.get(let.var.name, 0) == 1


CHEAP = SCALAR_PRIMS - MATH - {"op_pow", "pow", "select", "where"}  # a few cycles, no libm call


def arrays_recomputing_reads(let: Let, uses: dict, direct: dict, env: dict,
                             recomputed: dict) -> frozenset | None:
    """The arrays a map used k > 1 times, each time directly by a consumer, reads, where
    recomputing it per consumer moves fewer bytes than storing it (else None): recomputing
    reads its r arrays k times, storing reads them once, writes the result and reads it k
    times, so r(k - 1) < k + 1. Cheap arithmetic only (its work is then done k times, but
    hidden by the traffic); its inputs are arrays or maps recomputed in turn."""
    value, name = let.value, let.var.name
    if not (isinstance(value, Prim) and value.name == "map" and uses.get(name) == direct.get(name)
            and isinstance(value.args[0], Lambda) and cheap_arithmetic(value.args[0].body)):
        return None
    reads: frozenset = frozenset()
    for a in value.args[1:]:
        seq = env.get(a.name) if isinstance(a, Var) else None
        if isinstance(seq, Delayed) and id(seq) in recomputed:
            reads |= recomputed[id(seq)][1]
        elif isinstance(seq, Mat) and not isinstance(seq.type.elem, Seq):
            reads |= {seq.expr}
        else:
            return None
    k = uses.get(name, 0)  # 0: a value nothing uses is never stored
    return reads if len(reads) * (k - 1) < k + 1 else None


def scalar_row_result(body: Body) -> bool:
    """Whether `body` returns a map of scalar code (few lets, conditionals included) that
    it defines: recomputing an element of it costs no more than reading it back."""
    result = body.result
    if not isinstance(result, Var):
        return False
    let = next((let for let in body.lets if let.var.name == result.name), None)
    if let is None or not isinstance(let.value, Prim) or let.value.name != "map" or \
            not isinstance(let.value.args[0], Lambda):
        return False
    return isinstance(let.var.type, Seq) and isinstance(let.var.type.elem, Scalar) and \
        scalar_code(let.value.args[0].body)


def cheap_arithmetic(body: Body) -> bool:
    return len(body.lets) <= 8 and all(
        isinstance(let.value, Prim) and let.value.name in CHEAP
        and isinstance(let.var.type, Scalar) for let in body.lets)


def direct_uses(body: Body) -> dict[str, int]:
    """Uses of each name as an argument of a primitive at this body's top level."""
    direct: dict[str, int] = {}
    for let in body.lets:
        for a in args_needing_elements(let.value):
            if isinstance(a, Var):
                direct[a.name] = direct.get(a.name, 0) + 1
    return direct


def args_needing_elements(value) -> tuple:
    """The arguments of a let value that read elements: `len` needs only the length, which
    a delayed sequence knows without computing anything, so it is no use."""
    if isinstance(value, Prim) and value.name == "len":
        return ()
    return getattr(value, "args", ())


def count_uses(body: Body) -> dict[str, int]:
    uses: dict[str, int] = {}

    def visit(node, weight: int):
        match node:
            case Var(name):
                uses[name] = uses.get(name, 0) + weight
            case Prim():
                for a in args_needing_elements(node):
                    visit(a, weight)
            case Lambda(_, inner):  # a use inside a lambda may run once per element
                for let in inner.lets:
                    visit(let.value, 2)
                visit(inner.result, 2)
    for let in body.lets:
        visit(let.value, 1)
    visit(body.result, 2)  # returned values are stored
    return uses
