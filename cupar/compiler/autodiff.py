"""Pass `differentiate`: reverse-mode derivatives as a transform of the typed program.

Precondition: a typed, inlined Program and a `Request` (which arguments; `grad` or `vjp`).
Postcondition: a typed Program whose entry computes, for `grad`, `(value, (d/d arg, ...))`
and, for `vjp`, the pullback `(args..., cotangent) -> (d arg, ...)`. The derived program is an
ordinary cupar program: it is typed by `infer_types` (which so checks what this pass built),
fused and lowered like any other, at every place.

How. The forward lets are emitted as they are, then the reverse sweep visits them last to
first: once every use of a name has contributed to its adjoint, the adjoint is summed and the
let's rule (adjoints.py, one per primitive) adds contributions to its arguments. `map` and
`cond` are structural: the body of a map's function is differentiated into a new function
that recomputes the element's forward values and returns the adjoints of its parameters and
of the values it captures; captured numbers are then summed over the map's index, captured
sequences summed row by row, and an element read by index, `xs[i]`, becomes an (index,
value) pair that a `reduce_by_index` adds in at the sequence's own scope. A cond's branches
return the adjoints of what they capture, zeros where a branch does not use a value. Nothing
is recorded at run time: values are recomputed where needed (no tape).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CuparTypeError
from .adjoint_sums import Adjoints, Pair, sum_over
from .build import Builder, Names
from .dead_values import prune
from .infer import infer_types
from .ir import Body, Const, FnRef, Function, Lambda, Let, Prim, Program, Var, free_vars
from .types import Scalar, Seq, Tuple


@dataclass(frozen=True)
class Request:
    """What to differentiate: `argnums` of the entry; `mode` "grad" (a float scalar result)
    or "vjp" (any result; the program takes a cotangent). The derived program returns the
    tuple of gradients (the one gradient when `single`), preceded by the value when `value`
    (grad mode only): the structure its Python call returns. With `aux`, `grad` returns
    (gradients, aux) and `value_and_grad` ((loss, aux), gradients), as JAX's has_aux."""

    argnums: tuple
    mode: str = "grad"
    value: bool = False
    single: bool = False
    aux: bool = False  # the entry returns (loss, aux): differentiate the loss, pass aux on


def differentiate(program: Program, request: Request) -> Program:
    d = Differentiator(program)
    fn = d.entry(program.main, request)
    others = {n: f for n, f in program.functions.items() if n != program.entry}
    others.update(d.loops.functions)
    ct = (program.main.result_type,) if request.mode == "vjp" else ()
    derived = Program({fn.name: fn, **others}, fn.name, program.arg_types + ct,
                      program.sources, program.deps)
    return infer_types(derived)


def differentiable(t) -> bool:
    """Whether values of type `t` hold floats (and so can carry a gradient)."""
    match t:
        case Scalar():
            return t.kind == "f"
        case Seq(elem, _):
            return differentiable(elem)
        case Tuple(elems):
            return any(differentiable(e) for e in elems)
    return False


class Differentiator:
    """Differentiates one function; `sub` makes another for the helpers of loops, sharing
    names and helpers. Calls of the functions in `ignore` get no gradient (a loop's last
    value is taken where its recursive call is never reached)."""

    differentiable = staticmethod(differentiable)

    def __init__(self, program: Program, names: Names | None = None, loops=None,
                 ignore: frozenset = frozenset()):
        from .autodiff_loops import Loops
        self.program, self.ignore = program, frozenset(ignore)
        self.names = names or Names(program)
        self.loops = loops or Loops(program, self.names)
        self.active: set[str] = set()
        self.lambdas: dict[str, Lambda] = {}
        self.types: dict = {}  # every primal name's type, captured ones included

    def sub(self, ignore) -> "Differentiator":
        return Differentiator(self.program, self.names, self.loops, frozenset(ignore))

    def derive(self, fn: Function, wrt: tuple, name: str) -> Function:
        """The pullback of `fn` with respect to parameters `wrt`, named `name`."""
        return self.entry(fn, Request(tuple(wrt), "vjp"), name)

    @staticmethod
    def result_type(lam: Lambda):
        return lam.body.result.type

    # -- the entry --------------------------------------------------------------------
    def entry(self, main: Function, request: Request, name: str | None = None) -> Function:
        wrt = [self.argument(main, k) for k in request.argnums]
        self.active = {p.name for p in wrt}
        self.types.update({p.name: p.type for p in main.params})
        b = Builder(self.names, main.loc)
        body = inline_local_calls(main.body, {}, self.names)
        self.forward(body.lets, b)
        params = main.params
        adj = Adjoints(self)
        loss, aux = self.split_aux(main, body) if request.aux else (body.result, None)
        if request.mode == "grad":
            ct = self.seed(main, loss)
        else:
            ct = Var(self.names.fresh("cotangent"), None, main.loc)
            params = params + (ct,)
        adj.add(loss, ct)
        self.backward(body.lets, adj, b)
        grads = [self.final(adj, p, b) for p in wrt]
        out = grads[0] if request.single else b.prim("tuple", *grads)
        if request.value:
            out = b.prim("tuple", body.result, out)
        elif aux is not None:
            out = b.prim("tuple", out, aux)
        name = name or f"{request.mode}_{main.name}"
        body = b.body(out)
        if not request.value:  # what computes only the value goes (vjp computed it already)
            body = prune(body)
        return Function(name, params, body, main.loc, None)

    def argument(self, main: Function, k: int) -> Var:
        if not -len(main.params) <= k < len(main.params):
            raise CuparTypeError(
                f"argnums asks for argument {k}, but `{main.name}` takes "
                f"{len(main.params)}", main.loc, "argnums counts arguments from 0")
        p = main.params[k]
        if not differentiable(p.type):
            from .types import format_type
            raise CuparTypeError(
                f"cannot differentiate with respect to `{p.name}`: it is "
                f"{format_type(p.type)}, which holds no floats", p.loc or main.loc,
                "gradients are taken with respect to float arguments (f32, f64, sequences "
                "and tuples of them); convert with float32(...) or drop it from argnums")
        return p

    def seed(self, main: Function, result):
        t = result.type
        if not (isinstance(t, Scalar) and t.kind == "f"):
            from .types import format_type
            what = "whose loss (the first of its two results) is" if result is not \
                main.body.result and main.result_type != t else "whose result is"
            raise CuparTypeError(
                f"grad needs a function {what} a float number, but `{main.name}` "
                f"returns {format_type(main.result_type)}",
                getattr(result, "loc", None) or main.loc,
                "reduce the result to a number (sum(...)), or use cupar.vjp for any result")
        return Const(t.dtype.type(1), None, main.loc)

    @staticmethod
    def split_aux(main: Function, body: Body):
        """(loss, aux) of an entry returning the pair `return loss, aux` (has_aux=True)."""
        made = {let.var.name: let.value for let in body.lets}
        pair = made.get(getattr(body.result, "name", None))
        if not (isinstance(pair, Prim) and pair.name == "tuple" and len(pair.args) == 2):
            raise CuparTypeError(
                f"has_aux=True needs `{main.name}` to return a pair `loss, aux`",
                getattr(body.result, "loc", None) or main.loc,
                "end the function with `return loss, aux` (aux may be a tuple)")
        return pair.args

    def final(self, adj: Adjoints, p: Var, b: Builder):
        total = adj.take(p, b)
        return total if total is not None else b.zeros_like(p, p.type)

    # -- the two sweeps ---------------------------------------------------------------
    def forward(self, lets, b: Builder) -> None:
        """Emit `lets` and mark which of them depend on the active names."""
        for let in lets:
            active = not isinstance(let.value, Lambda) and self.depends(let.value)
            value = self.loops.record_early(self, let, b) if active else None
            b.lets.append(let if value is None else Let(let.var, value, let.loc))
            self.types[let.var.name] = let.var.type
            if isinstance(let.value, Lambda):
                self.lambdas[let.var.name] = let.value
            elif differentiable(let.var.type) and active:
                self.active.add(let.var.name)

    def depends(self, value) -> bool:
        names: set[str] = set()
        for arg in (value.args if isinstance(value, Prim) else (value,)):
            if isinstance(arg, Lambda):
                names |= free_vars(arg)
            elif isinstance(arg, Var):
                names.add(arg.name)
                if arg.name in self.lambdas:
                    names |= free_vars(self.lambdas[arg.name])
        return bool(names & self.active)

    def backward(self, lets, adj: Adjoints, b: Builder) -> None:
        from .adjoints import apply_rule
        for let in reversed(lets):
            if let.var.name not in self.active or isinstance(let.value, Lambda):
                continue
            b.loc = let.loc
            ct = adj.take(let.var, b)
            if ct is None:
                continue
            match let.value:
                case Var():
                    adj.add(let.value, ct)
                case Prim("map"):
                    self.map_rule(let, ct, adj, b)
                case Prim("cond"):
                    self.cond_rule(let, ct, adj, b)
                case Prim():
                    apply_rule(self, let, ct, adj, b)

    # -- map and cond -------------------------------------------------------------------
    def function_of(self, fn, loc) -> Lambda:
        """The Lambda a function argument stands for (inline, a local def, a @parallel
        function), renamed apart."""
        if isinstance(fn, Var) and fn.name in self.lambdas:
            fn = self.lambdas[fn.name]
        elif isinstance(fn, Const) and isinstance(fn.value, FnRef):
            callee = self.program.functions[fn.value.name]
            fn = Lambda(callee.params, inline_local_calls(callee.body, {}, self.names),
                        callee.loc)
        if not isinstance(fn, Lambda):
            raise CuparTypeError("cannot differentiate through this function value", loc,
                                 "pass a lambda, a nested def or a @parallel function")
        return self.names.renamed(fn)

    def map_rule(self, let: Let, ct, adj: Adjoints, b: Builder) -> None:
        fn, *seqs = let.value.args
        lam = self.function_of(fn, let.loc)
        for p, xs in zip(lam.params, seqs):
            self.types[p.name] = p.type
            if isinstance(xs, Var) and xs.name in self.active:
                self.active.add(p.name)
        ct_elem = Var(self.names.fresh("ct"), None, let.loc)
        inner = b.nested()
        outputs, layout = self.differentiate_body(lam.body, ct_elem, inner, lam.params, "all")
        if not outputs:
            return
        # an element's adjoint that is its cotangent, or one of its own elements, is that
        # whole sequence: no map copies it (the adjoint of `map(op_add, a, b)` is ct twice,
        # and a linear layer's bias adds no copy of its output's cotangent)
        whole = {ct_elem.name: ct, **{p.name: xs for p, xs in zip(lam.params, seqs)}}
        columns = [whole.get(o.name) if isinstance(o, Var) else None for o in outputs]
        computed = [o for o, column in zip(outputs, columns) if column is None]
        if computed:
            mapped = iter(self.map_back(lam, seqs, ct, ct_elem, inner, computed, b, let.loc))
            columns = [next(mapped) if column is None else column for column in columns]
        self.distribute(layout, columns, adj, b, seqs)

    def map_back(self, lam, seqs, ct, ct_elem, inner: Builder, outputs, b: Builder, loc):
        """The columns of `outputs`, computed per element by a map over ct (and the
        sequences whose elements they read)."""
        result = outputs[0] if len(outputs) == 1 else inner.prim("tuple", *outputs)
        body = prune(inner.body(result))
        # only the sequences whose elements the reverse body reads (ct has their length):
        # the forward values of a sum's operands, say, may then never be computed
        used = free_vars(body)
        kept = [(p, xs) for p, xs in zip(lam.params, seqs) if p.name in used]
        back = Lambda(tuple(p for p, _ in kept) + (ct_elem,), body, loc)
        mapped = b.prim("map", back, *(xs for _, xs in kept), ct)
        if len(outputs) == 1:
            return [mapped]
        cols = b.prim("unzip", mapped)
        return [b.field(cols, k) for k in range(len(outputs))]

    def distribute(self, layout, columns, adj: Adjoints, b: Builder, seqs) -> None:
        column = iter(columns)
        for kind, what in layout:
            if kind == "param":
                adj.add(seqs[what], next(column))
            elif kind == "dense":
                adj.add(what, sum_over(b, next(column), what, what.type))
            else:  # a column of pairs
                index, value = next(column), next(column)
                adj.add_pair(what, Pair(index, value, many=True, padded=kind == "padded"))

    def differentiate_body(self, body: Body, ct, b: Builder, params, keep: str):
        """Emit the forward and reverse sweeps of `body` with cotangent `ct`; return the
        adjoints of `params` and of captured values, and their layout."""
        adj = Adjoints(self)
        self.forward(body.lets, b)
        adj.add(body.result, ct)
        self.backward(body.lets, adj, b)
        outputs, layout = [], []
        for k, p in enumerate(params):
            if p.name in self.active:
                outputs.append(self.final(adj, p, b))
                layout.append(("param", k))
        for name in sorted(adj.leftover()):
            var = Var(name, self.types[name])
            dense, pairs = adj.take_free(var, b, keep)
            if dense is not None:
                outputs.append(dense)
                layout.append(("dense", var))
            for pair in pairs:
                outputs += [pair.index, pair.value]
                layout.append(("padded" if pair.padded else "pair", var))
        return outputs, layout

    def cond_rule(self, let: Let, ct, adj: Adjoints, b: Builder) -> None:
        pred, *branches = let.value.args
        results = []
        for branch in branches:
            inner = b.nested()
            lam = self.names.renamed(branch)
            outputs, layout = self.differentiate_body(lam.body, ct, inner, (), "numbers")
            results.append((inner, dict(zip_layout(layout, outputs))))
        slots = merged_slots([r[1] for r in results])
        if not slots:
            return
        lambdas = []
        for inner, found in results:
            atoms = []
            for key, var in slots:
                atoms += fill_slot(inner, found.get(key), key, var)
            out = atoms[0] if len(atoms) == 1 else inner.prim("tuple", *atoms)
            lambdas.append(Lambda((), prune(inner.body(out)), let.loc))
        chosen = b.prim("cond", pred, *lambdas)
        count = sum(1 if key[0] == "dense" else 2 for key, _ in slots)
        atoms = [chosen] if count == 1 else [b.field(chosen, k) for k in range(count)]
        position = iter(atoms)
        for (kind, _, _), var in slots:
            if kind == "dense":
                adj.add(var, next(position))
            else:
                index, value = next(position), next(position)
                adj.add_pair(var, Pair(index, value, padded=True))


def zip_layout(layout, outputs):
    """(key, atoms) per output slot: dense adjoints by ("dense", name, 0), pairs by
    ("pair", name, their number among that name's pairs)."""
    atoms, counts = iter(outputs), {}
    for kind, what in layout:
        if kind == "dense":
            yield ("dense", what.name, 0), (what, [next(atoms)])
        else:
            k = counts[what.name] = counts.get(what.name, -1) + 1
            yield ("pair", what.name, k), (what, [next(atoms), next(atoms)])


def merged_slots(founds: list) -> list:
    slots: dict = {}
    for found in founds:
        for key, (var, _) in found.items():
            slots.setdefault(key, var)
    return sorted(slots.items(), key=lambda kv: kv[0])


def fill_slot(b: Builder, found, key, var: Var) -> list:
    if found is not None:
        return found[1]
    if key[0] == "dense":
        return [b.zeros_like(var, var.type)]
    return [b.const(0), b.zero(var.type.elem)]  # a padded pair: (0, 0) adds nothing


def inline_local_calls(body: Body, lambdas: dict, names: Names) -> Body:
    """`body` with every call of a local function (nested def, named lambda) replaced by a
    renamed copy of its body, so the sweeps see plain lets. Recursive local functions stay
    calls (loops: autodiff_loops.py)."""
    lets: list[Let] = []
    for let in body.lets:
        value = let.value
        if isinstance(value, Lambda):
            value = Lambda(value.params, inline_local_calls(value.body, dict(lambdas), names),
                           value.loc)
            if let.var.name not in free_vars(value):  # a recursive one stays a loop
                lambdas[let.var.name] = value
        elif isinstance(value, Prim) and value.name == "call" and \
                isinstance(value.args[0], Var) and value.args[0].name in lambdas:
            b = Builder(names, let.loc)
            result = b.inline(lambdas[value.args[0].name], value.args[1:])
            lets += b.lets
            lets.append(Let(let.var, result, let.loc))
            continue
        elif isinstance(value, Prim):
            value = Prim(value.name, tuple(
                Lambda(a.params, inline_local_calls(a.body, dict(lambdas), names), a.loc)
                if isinstance(a, Lambda) else a for a in value.args), value.loc)
        lets.append(Let(let.var, value, let.loc))
    return Body(tuple(lets), body.result)
