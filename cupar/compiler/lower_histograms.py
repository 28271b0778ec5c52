"""Lowering of `reduce_by_index` (histograms, scatter-adds): a mixin of `Lowerer`.

`reduce_by_index(op, dest, idx, values)` becomes two parallel loops: one writes `dest` into
a fresh array (a delayed `dest`, such as `replicate(0.0, n)`, is computed there; it is never
stored twice), then a `Histogram` statement combines every value into that array at its
checked index. The producers of `idx` and `values` fuse into the histogram's loop. Rows
(2-D `dest`) combine column by column in a sequential inner loop.

How the values land is the back end's choice (kernel_ir.Histogram): the operator is
associative and commutative, so per-thread private copies or atomics are both correct. The
lowering recognises `op_add`, `maximum`, `minimum`, `max` and `min` (written as a name or as
`lambda a, b: op(a, b)`, either order) and gives their neutral element, which lets a back
end start private copies without reading `dest` and use atomic instructions.
"""

from __future__ import annotations

from .ir import Lambda, Prim, Var
from .kernel_ir import Accumulate, Combine, Histogram, If, Loop
from .lower_values import Delayed, Mat, NotLowered, length_of
from .scalar_code import scalar_expr
from .types import Scalar, Seq

# the recognised operators, by the primitive the lambda calls
OPERATORS = {"op_add": "add", "maximum": "max", "max": "max", "minimum": "min", "min": "min"}


class HistogramRules:
    """`p_reduce_by_index` (mixed into the Lowerer)."""

    def p_reduce_by_index(self, let, prim, args, out):
        fn, dest, idx, values = args
        t = dest.type.elem
        number = t.elem if isinstance(t, Seq) else t
        if not isinstance(number, Scalar):
            raise NotLowered("reduce_by_index of tuples or of sequences nested three deep")
        self.same_lengths("reduce_by_index", [idx, values], prim.loc, out)
        result = self.fresh_copy(dest, out)
        k, body = self.fresh("k"), []
        self.depth += 1
        j = self.checked(self.element(idx, k, body), result, body, prim.loc, "reduce_by_index")
        value = self.element(values, k, body)
        if isinstance(t, Seq):
            body.append(self.accumulate_row(j, value, result, prim.loc))
        else:
            body.append(Accumulate(j, value))
        combine = self.histogram_combine(fn, number)
        self.depth -= 1
        op = histogram_operator(prim.args[0])
        out.append(Histogram(k, length_of(idx), tuple(body), result.expr, number.dtype.name,
                             combine, op, identity(op, number), parallel=self.depth == 0,
                             rows=isinstance(t, Seq)))
        return result

    def fresh_copy(self, dest, out: list) -> Mat:
        """`dest` written into an array of its own: a delayed `dest` is computed into it, an
        array is copied (in one parallel loop, which a caller's `out=` array can take)."""
        if isinstance(dest, Mat):
            base = dest
            dest = Delayed(length_of(base), lambda i, stmts: self.element(base, i, stmts),
                           base.type)
        if not isinstance(dest, Delayed):
            raise NotLowered("reduce_by_index into a sequence of tuples")
        return self.materialize(dest, out)

    def accumulate_row(self, j: str, row, result: Mat, loc) -> If:
        """Each column of the value row combined into row j (after a check that the row
        has dest's length, as the meaning requires)."""
        width, c, inner = result.dims[1], self.fresh("c"), []
        inner.append(Accumulate(f"{j}, {c}", self.element(row, c, inner)))
        message = "reduce_by_index got rows of different lengths"
        return If(f"{length_of(row)} != {width}", (self.fail("value", message, loc),),
                  (Loop(c, width, tuple(inner), parallel=False),))

    def histogram_combine(self, fn, number: Scalar) -> Combine:
        left, right, stmts = self.fresh("l"), self.fresh("r"), []
        combined = self.apply(fn, [left, right], stmts)
        if not isinstance(combined, str):
            raise NotLowered("reduce_by_index with an operator that does not give a number")
        return Combine((left,), (right,), tuple(stmts), (f"np.{number.dtype.name}({combined})",))


def histogram_operator(fn) -> str | None:
    """'add', 'max' or 'min' when `fn` is `lambda a, b: p(a, b)` (or `p(b, a)`) for one of
    the recognised primitives `p` (OPERATORS), else None."""
    if not (isinstance(fn, Lambda) and len(fn.params) == 2 and len(fn.body.lets) == 1):
        return None
    let = fn.body.lets[0]
    value, names = let.value, {p.name for p in fn.params}
    if not (isinstance(value, Prim) and value.name in OPERATORS and len(value.args) == 2
            and all(isinstance(a, Var) for a in value.args) and fn.body.result == let.var
            and {a.name for a in value.args} == names and len(names) == 2):
        return None
    return OPERATORS[value.name]


def identity(op: str | None, t: Scalar) -> str | None:
    """The neutral element of a recognised operator at type `t`, as an expression."""
    if op == "add":
        return f"np.{t.dtype.name}(0)"
    if op in ("max", "min"):  # the least (greatest) value: -inf (inf) for floats
        return scalar_expr("min_bound" if op == "max" else "max_bound", ["0"], [t], t)
    return None

