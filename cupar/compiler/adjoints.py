"""Adjoint rules: for each primitive, how the cotangent of its result flows to its arguments,
written with primitives of the language so the backward pass fuses like the forward one.

A rule is `rule(s: Step)`: `s.ct` is the cotangent of the let `s.y = prim(*s.args)`, and the
rule adds contributions with `s.add(k, value)` (argument k's adjoint) or, for elements read by
index, `s.pair(k, Pair(...))`. Rules emit code through `s.b` (a Builder). Every primitive of
the prelude is in exactly one of: RULES, CONSTANT (no gradient flows: integer, boolean or
piecewise-constant results), STRUCTURAL (map and cond, in autodiff.py), REJECTED (a reason,
reported at the let's location).

Ties: min/max and minimum/maximum give the whole cotangent to one argument, the first in the
order the reference implementation compares (for a sequence, the first extreme element;
for reduce, the initial value first).
"""

from __future__ import annotations

from ..errors import CuparTypeError
from .adjoint_sums import Pair, sum_over
from .autodiff import differentiable
from .autodiff_iterate import rule_iterate
from .ir import Const, FnRef, Lambda, Prim, Var
from .types import Scalar, Seq


class Step:
    """What a rule sees: the let, its cotangent, and where contributions go."""

    def __init__(self, d, let, ct, adj, b):
        self.d, self.let, self.ct, self.adj, self.b = d, let, ct, adj, b
        self.args, self.y, self.prim = let.value.args, let.var, let.value.name

    def active(self, k: int) -> bool:
        a = self.args[k]
        return isinstance(a, Var) and a.name in self.d.active

    def add(self, k: int, value) -> None:
        """Add `value` to argument k's adjoint (numbers converted to the argument's type)."""
        if not self.active(k):
            return
        a = self.args[k]
        if isinstance(a.type, Scalar) and a.type != self.y.type:
            value = self.b.prim("cast_to", value, a)
        self.adj.add(a, value)

    def pair(self, k: int, pair: Pair) -> None:
        if self.active(k):
            self.adj.add_pair(self.args[k], pair)

    def call(self, *names_and_args):
        return self.b.prim(*names_and_args)

    def operator(self, k: int) -> str | None:
        return operator_of(self.d.function_of(self.args[k], self.let.loc))

    def fail(self, why: str, hint: str | None = None):
        raise CuparTypeError(f"cannot differentiate `{self.prim}`: {why}", self.let.loc,
                             hint or "write this part without it, or keep it out of the "
                                     "arguments being differentiated")


def operator_of(fn: Lambda) -> str | None:
    """"add" for `lambda a, b: op_add(a, b)` or its elementwise map over rows; the name of
    `maximum`, `minimum`, `max`, `min` applied to (a, b); else None."""
    if len(fn.params) != 2 or len(fn.body.lets) != 1:
        return None
    (let,) = fn.body.lets
    value, params = let.value, [p.name for p in fn.params]
    if not (isinstance(value, Prim) and fn.body.result == let.var):
        return None
    atoms = [a.name if isinstance(a, Var) else None for a in value.args]
    if value.name == "op_add" and sorted(atoms, key=str) == sorted(params):
        return "add"
    if value.name in ("maximum", "minimum", "max", "min") and atoms == params:
        return {"max": "maximum", "min": "minimum"}.get(value.name, value.name)
    if value.name == "map" and isinstance(value.args[0], Lambda) and atoms[1:] == params:
        return "add" if operator_of(value.args[0]) == "add" else None
    return None


# -- numbers ------------------------------------------------------------------------------

def neg(s, x):
    return s.call("op_neg", x)


def mul(s, a, b):
    return s.call("op_mul", a, b)


def rule_add(s):
    s.add(0, s.ct)
    s.add(1, s.ct)


def rule_sub(s):
    s.add(0, s.ct)
    s.add(1, neg(s, s.ct))


def rule_mul(s):
    a, b = s.args
    s.add(0, mul(s, s.ct, b))
    s.add(1, mul(s, s.ct, a))


def rule_div(s):
    a, b = s.args
    s.add(0, s.call("op_div", s.ct, b))
    s.add(1, neg(s, s.call("op_div", mul(s, s.ct, s.y), b)))


def rule_pow(s):
    a, b = s.args
    if s.active(0):
        s.add(0, mul(s, mul(s, s.ct, b), s.call("op_pow", a, s.call("op_sub", b, s.b.const(1)))))
    if s.active(1):  # d/db a**b = a**b log a; 0 where a == 0 (the limit from above)
        grow = mul(s, mul(s, s.ct, s.y), s.call("log", a))
        zero = s.b.zero(s.y.type)
        s.add(1, s.call("select", s.call("cmp_eq", a, s.b.const(0)), zero, grow))


def rule_mod(s):
    a, b = s.args
    s.add(0, s.ct)
    s.add(1, neg(s, mul(s, s.ct, s.call("op_floordiv", a, b))))


def unary(derivative):
    """A rule for f(x) given f'(x) from (step, x, y)."""
    def rule(s):
        s.add(0, mul(s, s.ct, derivative(s, s.args[0], s.y)))
    return rule


def rule_abs(s):
    (x,) = s.args
    s.add(0, s.call("select", s.call("cmp_lt", x, s.b.const(0)), neg(s, s.ct), s.ct))


def rule_extremum(s):
    """maximum, minimum, max(a, b), min(a, b): the first argument wins ties."""
    if len(s.args) == 1:
        return rule_extremum_of_sequence(s)
    a, b = s.args
    better = "cmp_gt" if s.prim in ("maximum", "max") else "cmp_lt"
    second = s.call(better, b, a)
    zero = s.b.zero(s.y.type)
    s.add(0, s.call("select", second, zero, s.ct))
    s.add(1, s.call("select", second, s.ct, zero))


def rule_extremum_of_sequence(s):
    """max(xs), min(xs): the first extreme element (argmax's choice) takes the cotangent."""
    where = s.call("argmax" if s.prim == "max" else "argmin", s.args[0])
    s.pair(0, Pair(where, s.ct))


def rule_select(s):
    p, a, b = s.args
    zero = s.b.zero(s.y.type)
    s.add(1, s.call("select", p, s.ct, zero))
    s.add(2, s.call("select", p, zero, s.ct))


def rule_cast(s):
    if s.active(0):
        s.adj.add(s.args[0], s.call("cast_to", s.ct, s.args[0]))


# -- reductions and scans -------------------------------------------------------------------

def every(s, k: int):
    """The cotangent given to every element of sequence argument k."""
    return s.call("replicate", s.ct, s.call("len", s.args[k]))


def rule_sum(s):
    s.add(0, every(s, 0))


def rule_reduce(s):
    op = s.operator(0)
    if op == "add":
        s.add(1, every(s, 1))
        s.add(2, s.ct)
    elif op in ("maximum", "minimum") and isinstance(s.y.type, Scalar):
        reduce_extremum(s, op)
    else:
        s.fail("only reductions by op_add (of numbers or, elementwise, of rows), maximum "
               "and minimum have a gradient", "write the reduction with sum(...), "
               "reduce(op_add, ...), max(...) or min(...)")


def reduce_extremum(s, op: str):
    """reduce(maximum, xs, init): the initial value wins ties, then the first element equal
    to the result."""
    _, xs, init = s.args
    b, y = s.b, s.y
    zero = b.zero(y.type)
    init_won = s.call("cmp_eq", init, y)
    s.add(2, s.call("select", init_won, s.ct, zero))
    if not s.active(1):
        return
    n = s.call("len", xs)
    hits = s.call("map", b.lam(2, lambda ib, k, x: ib.prim(
        "select", ib.prim("cmp_eq", x, y), k, n)), s.call("indices", xs), xs)
    first = s.call("reduce", b.op("minimum"), hits, n)
    found = s.call("cmp_lt", first, n)
    gets = s.call("select", init_won, zero, s.call("select", found, s.ct, zero))
    s.pair(1, Pair(s.call("select", found, first, b.const(0)), gets, padded=True))


def scan_rule(reverse_of: str, exclusive: bool):
    """Sums only: an inclusive scan's adjoint is the opposite inclusive scan of the
    cotangent; an exclusive one's the opposite exclusive scan (from zero), and the start
    value gets the whole cotangent's sum."""
    def rule(s):
        if s.operator(0) != "add":
            s.fail("only scans by op_add have a gradient", "write it as scan(op_add, xs)")
        xs_k = 2 if exclusive else 1
        t = s.args[xs_k].type
        add = s.b.lam(2, lambda ib, a, c: ib.add(a, c, t.elem))
        if exclusive:
            start = s.b.zeros_like(s.args[1], t.elem)
            s.add(xs_k, s.call(reverse_of, add, start, s.ct))
            s.add(1, sum_over(s.b, s.ct, s.args[1], t.elem))
        else:
            s.add(xs_k, s.call(reverse_of, add, s.ct))
    return rule


# -- structure ----------------------------------------------------------------------------

def rule_zip(s):
    if any(s.active(k) for k in range(len(s.args))):
        cols = s.call("unzip", s.ct)
        for k in range(len(s.args)):
            if s.active(k):
                s.add(k, s.b.field(cols, k))


def rule_unzip(s):
    fields = [s.b.field(s.ct, k) for k in range(len(s.y.type.elems))]
    s.add(0, s.call("zip", *fields))


def rule_enumerate(s):
    s.add(0, s.b.field(s.call("unzip", s.ct), 1))


def rule_tuple(s):
    for k in range(len(s.args)):
        if s.active(k):
            s.add(k, s.b.field(s.ct, k))


def rule_index(s):
    xs, i = s.args
    if isinstance(xs.type, Seq):
        s.pair(0, Pair(i, s.ct))
    elif s.active(0):
        s.adj.add_part(xs, i.value % len(xs.type.elems), s.ct)


def rule_unpack(s):
    s.add(0, s.ct)


def rule_gather(s):
    s.pair(0, Pair(s.args[1], s.ct, many=True))


def rule_replicate(s):
    x = s.args[0]
    if s.active(0):
        s.add(0, sum_over(s.b, s.ct, x, x.type))


def rule_shift(s):
    xs, offset, default = s.args
    elem = xs.type.elem
    if not isinstance(elem, Scalar):
        s.fail("shifts of rows have no gradient yet")
    b = s.b
    zero = b.zero(elem)
    s.add(0, s.call("shift", s.ct, neg(s, offset), zero))
    if s.active(2):  # the fill value gets the cotangent of every position it filled
        n = s.call("len", xs)

        def filled(ib, i, c):
            j = ib.prim("op_add", i, offset)
            inside = ib.prim("op_and", ib.prim("cmp_ge", j, ib.const(0)), ib.prim("cmp_lt", j, n))
            return ib.prim("select", inside, zero, c)
        s.add(2, s.call("sum", s.call("map", b.lam(2, filled), s.call("indices", s.ct), s.ct)))


def rule_rotate(s):
    s.add(0, s.call("rotate", s.ct, neg(s, s.args[1])))


# -- data movement by indices --------------------------------------------------------------

def scattered(s, src, idx, dst):
    """(adjoint of src, of dst) of scatter(src, idx, dst): where indices repeat, the value
    that landed is the one that takes the cotangent (the scatter of element numbers tells
    which)."""
    b = s.b
    none = s.call("replicate", b.const(-1), s.call("len", dst))
    winner = s.call("scatter", s.call("indices", src), idx, none)
    elem = dst.type.elem

    def kept(ib, k, c, w):
        return ib.choose(ib.prim("cmp_eq", w, k), c, ib.zeros_like(c, elem), elem)

    def left(ib, c, w):
        return ib.choose(ib.prim("cmp_lt", w, ib.const(0)), c, ib.zeros_like(c, elem), elem)
    src_ct = s.call("map", b.lam(3, kept), s.call("indices", src), s.call("gather", s.ct, idx),
                    s.call("gather", winner, idx))
    dst_ct = s.call("map", b.lam(2, left), s.ct, winner)
    return src_ct, dst_ct


def rule_scatter(s):
    src_ct, dst_ct = scattered(s, *s.args)
    s.add(0, src_ct)
    s.add(2, dst_ct)


def rule_permute(s):
    xs, idx = s.args
    src_ct, dst_ct = scattered(s, xs, idx, xs)
    s.add(0, src_ct)
    s.add(0, dst_ct)


def rule_update(s):
    dst, updates = s.args
    cols = s.call("unzip", updates)
    idx, src = s.b.field(cols, 0), s.b.field(cols, 1)
    src_ct, dst_ct = scattered(s, src, idx, dst)
    s.add(0, dst_ct)
    if s.active(1):
        pair = updates.type.elem
        positions = Seq(pair.elems[0], updates.type.length)
        s.add(1, s.call("zip", s.b.zeros_like(idx, positions), src_ct))


def rule_filter(s):
    """The kept elements' positions, found again by the same predicate, take the
    cotangent."""
    fn, xs = s.args
    test = s.d.function_of(fn, s.let.loc)
    keep = s.b.lam(1, lambda ib, i: ib.inline(test, [ib.prim("index", xs, i)]))
    where = s.call("filter", keep, s.call("indices", xs))
    s.pair(1, Pair(where, s.ct, many=True))


def rule_sort(s):
    """Sorting the positions by the same (stable) order gives the permutation; the
    cotangent goes back through it."""
    less, xs = s.args
    order = s.d.function_of(less, s.let.loc)
    by_position = s.b.lam(2, lambda ib, i, j: ib.inline(
        order, [ib.prim("index", xs, i), ib.prim("index", xs, j)]))
    where = s.call("sort", by_position, s.call("indices", xs))
    s.add(1, s.call("permute", s.ct, where))


def rule_reduce_by_index(s):
    """Sums only: dest's cotangent passes through, each value gets its slot's."""
    if s.operator(0) != "add":
        s.fail("only reduce_by_index with op_add has a gradient",
               "write the scatter-add as reduce_by_index(op_add, dest, indices, values)")
    _, dest, idx, values = s.args
    s.add(1, s.ct)
    s.add(3, s.call("gather", s.ct, idx))


# -- linear algebra -----------------------------------------------------------------------

def rule_matmul(s):
    """C = A B: dA = dC B^T, dB = A^T dC; a matrix-vector product's matrix gets the outer
    product of the cotangent and the vector."""
    a, b = s.args
    matrix_a, matrix_b = depth(a.type) == 2, depth(b.type) == 2
    t = s.call
    if s.active(0):
        if matrix_a and matrix_b:
            s.add(0, t("matmul", s.ct, t("transpose", b)))
        elif matrix_a:  # (n, k) by (k,)
            s.add(0, outer(s, s.ct, b))
        else:  # (k,) by (k, m)
            s.add(0, t("matmul", b, s.ct))
    if s.active(1):
        s.add(1, outer(s, a, s.ct) if not matrix_a else t("matmul", t("transpose", a), s.ct))


def outer(s, u, v):
    return s.call("map", s.b.lam(1, lambda ib, x: ib.prim(
        "map", ib.lam(1, lambda jb, y: jb.prim("op_mul", x, y)), v)), u)


def depth(t) -> int:
    return 1 + depth(t.elem) if isinstance(t, Seq) else 0


def rule_transpose(s):
    s.add(0, s.call("transpose", s.ct))


def rule_call(s):
    """Calls left after inlining are loops (tail recursion): autodiff_loops.py."""
    fn = s.args[0]
    if isinstance(fn, Const) and isinstance(fn.value, FnRef) and fn.value.name in s.d.ignore:
        return  # a loop's last step, where the recursive call is not reached
    if isinstance(fn, Var) and fn.name not in s.d.lambdas:
        s.fail("it calls a function value that is not a local function")
    s.d.loops.rule(s.d, s)


def rule_join(s):
    """Row i of the adjoint is the cotangent's slice [i * m, (i + 1) * m), m a row's length
    (read off each row, so rows of length 0 keep their number)."""
    xs = s.args[0]

    def row(ib, i, r):
        start = ib.prim("op_mul", i, ib.prim("len", r))
        return ib.prim("map", ib.lam(1, lambda jb, j: jb.prim(
            "index", s.ct, jb.prim("op_add", start, j))), ib.prim("indices", r))
    if s.active(0):
        s.add(0, s.call("map", s.b.lam(2, row), s.call("indices", xs), xs))


RULES = {
    "op_add": rule_add, "op_sub": rule_sub, "op_mul": rule_mul, "op_div": rule_div,
    "op_pow": rule_pow, "pow": rule_pow, "op_mod": rule_mod,
    "op_neg": unary(lambda s, x, y: s.b.const(-1)), "op_pos": lambda s: s.add(0, s.ct),
    "sqrt": unary(lambda s, x, y: s.call("op_div", s.b.const(0.5), y)),
    "exp": unary(lambda s, x, y: y),
    "log": unary(lambda s, x, y: s.call("op_div", s.b.const(1.0), x)),
    "tanh": unary(lambda s, x, y: s.call("op_sub", s.b.const(1.0), mul(s, y, y))),
    "sigmoid": unary(lambda s, x, y: mul(s, y, s.call("op_sub", s.b.const(1.0), y))),
    "sin": unary(lambda s, x, y: s.call("cos", x)),
    "cos": unary(lambda s, x, y: neg(s, s.call("sin", x))),
    "abs": rule_abs, "maximum": rule_extremum, "minimum": rule_extremum,
    "max": rule_extremum, "min": rule_extremum, "select": rule_select, "where": rule_select,
    "float32": rule_cast, "float64": rule_cast, "cast_to": rule_cast, "cast_to_el": rule_cast,
    "py_float": rule_cast,
    "sum": rule_sum, "reduce": rule_reduce,
    "scan": scan_rule("rscan", False), "rscan": scan_rule("scan", False),
    "exclusive_scan": scan_rule("exclusive_rscan", True),
    "exclusive_rscan": scan_rule("exclusive_scan", True),
    "zip": rule_zip, "unzip": rule_unzip, "enumerate": rule_enumerate, "tuple": rule_tuple,
    "index": rule_index, "unpack": rule_unpack, "gather": rule_gather,
    "replicate": rule_replicate, "shift": rule_shift, "rotate": rule_rotate,
    "scatter": rule_scatter, "permute": rule_permute, "update": rule_update,
    "filter": rule_filter, "sort": rule_sort, "reduce_by_index": rule_reduce_by_index,
    "matmul": rule_matmul, "transpose": rule_transpose,
    "join": rule_join, "split": lambda s: s.add(0, s.call("join", s.ct)),
}
# No gradient flows through these: their results are integers or booleans, or floats that
# are constant almost everywhere (floor, ceil, //), or stop_gradient's. They are never
# differentiated.
CONSTANT = {
    "floor", "ceil", "op_floordiv", "len", "indices", "range", "bounded_range", "argmin",
    "argmax", "any", "all", "int32", "int64", "py_int", "py_bool", "op_lshift", "op_rshift",
    "op_or", "op_xor",
    "op_and", "op_invert", "op_not", "cmp_eq", "cmp_ne", "cmp_lt", "cmp_le", "cmp_gt", "cmp_ge",
    "max_bound", "min_bound", "max_bound_el", "min_bound_el",
    "stop_gradient",  # (by definition)
}
STRUCTURAL = {"map", "cond"}
RULES["call"] = rule_call
RULES["iterate"] = rule_iterate
REJECTED: dict = {}  # primitive -> rule raising a located error


def apply_rule(d, let, ct, adj, b) -> None:
    s = Step(d, let, ct, adj, b)
    rule = RULES.get(s.prim) or REJECTED.get(s.prim)
    if rule is None:
        if s.prim in CONSTANT:
            return
        s.fail("it has no adjoint rule")
    if s.prim not in REJECTED and not differentiable(s.y.type):
        return
    rule(s)
