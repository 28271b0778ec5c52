"""Lowering rules of `matmul` and `transpose` (a mixin of `Lowerer`, see lower.py).

`transpose(m)` of a stored matrix (others are stored first, which checks their rows are
regular) is a delayed sequence whose element [i][j] reads m[j][i]: index arithmetic in
its consumer. It remembers `m` (`Delayed.swapped`), so that a matmul reads a stored `m`
transposed instead of copying it.

`matmul(a, b)` of two matrices emits a `MatMul` into a fresh array where it stands, and is a
delayed sequence of rows whose elements read that array (`Delayed.stored`). A consumer that
stores rows computed from the product's element [i][j] by scalar code alone (a bias, an
activation, a scaling: maps of maps over the product's rows) becomes instead one MatMul with
that code as its epilogue (`fused_product`), run on each tile of the product while it is in
cache; the eager MatMul is then dead, and `drop_unused_products` removes it. A product with
a vector on either side is a delayed sequence of dot products (each a reduction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass, replace

from .kernel_ir import Alloc, Assign, Fail, If, KernelProgram, MatMul
from .lower_values import Delayed, Mat, length_of
from .types import Seq


@dataclass
class Epilogue:
    """A fusion attempt: the element [i][j] of the first product read at exactly the store's
    indices (i, j) is the accumulator `acc` (found: that product's eager MatMul)."""

    i: str
    j: str
    acc: str
    found: MatMul | None = None


class MatrixRules:
    """`p_matmul`, `p_transpose` and the fusion of a product's consumer (mixed into the
    Lowerer, which sets `epilogue` to None and `eager` to {})."""

    def p_transpose(self, let, prim, args, out):
        m = self.matrix(args[0], out)
        if isinstance(m, Delayed):  # transpose(transpose(x)) is x
            return m.swapped
        rows, cols, t = length_of(m), m.dims[1], let.var.type

        def elem(i, stmts):
            return Delayed(rows, lambda j, s: self.element(self.element(m, j, s), i, s), t.elem)
        return Delayed(cols, elem, t, swapped=m)

    def matrix(self, m, out):
        """A matrix as an array (a delayed one stored: `write` checks that its rows are
        regular), or as the transpose of one (a Delayed with `swapped`)."""
        if isinstance(m, Delayed) and m.swapped is not None:
            return m
        return self.materialize(m, out)

    def row_length(self, m) -> str:
        """The length of the rows of a matrix that `matrix` gave."""
        return length_of(m.swapped) if isinstance(m, Delayed) else m.dims[1]

    def p_matmul(self, let, prim, args, out):
        a, b = args
        t = let.var.type
        a_vector, b_vector = (not isinstance(x.type.elem, Seq) for x in (a, b))
        if a_vector or b_vector:
            a, b = (x if v else self.matrix(x, out) for x, v in ((a, a_vector), (b, b_vector)))
            inner = length_of(a) if a_vector else self.row_length(a)
            self.same_inner(inner, length_of(b), prim, out)
            return self.dot_products(a, b, a_vector, length_of(b), t, out)
        (ea, ta, n, k), (eb, tb, kb, m) = self.operand(a, out), self.operand(b, out)
        self.same_inner(k, kb, prim, out)
        dtype = t.elem.elem.dtype.name
        tmp, i, j, acc = (self.fresh(x) for x in ("product", "i", "j", "acc"))
        eager = MatMul(tmp, ea, eb, ta, tb, n, m, k, i, j, acc, (), acc, dtype,
                       parallel=self.depth == 0)
        out += [Alloc(tmp, dtype, (n, m)), eager]
        self.eager[tmp] = eager
        stored = Mat(tmp, t, (n, m))

        def elem(i, stmts):
            return Delayed(m, lambda j, s: self.product_element(eager, i, j), t.elem)
        return Delayed(n, elem, t, stored=stored)

    def same_inner(self, inner_a: str, inner_b: str, prim, out) -> None:
        if inner_a != inner_b:
            out.append(If(f"{inner_a} != {inner_b}", (self.fail(
                "value", "matmul got operands whose inner lengths differ", prim.loc,
                "the length of a's rows must be the number of rows of b (n x k times k x m)"),),
                ()))

    def operand(self, x, out) -> tuple[str, bool, str, str]:
        """(array expression, transposed, rows, columns) of a matmul's matrix operand: a
        stored matrix as it is, a transposed one read transposed, anything else stored."""
        if isinstance(x, Delayed) and x.swapped is not None:
            src = self.materialize(x.swapped, out)
            return src.expr, True, src.dims[1], src.dims[0]
        src = self.materialize(x, out)
        return src.expr, False, src.dims[0], src.dims[1]

    def product_element(self, eager: MatMul, i: str, j: str) -> str:
        e = self.epilogue
        if e is not None and (e.i, e.j) == (i, j) and (e.found is None or e.found is eager):
            e.found = eager
            return e.acc
        return f"{eager.out}[{i}, {j}]"

    def dot_products(self, a, b, a_vector: bool, k: str, t, out):
        """A matrix by a vector (or a vector by a matrix): element i is the sum over p of
        a[i][p] * v[p] (of v[p] * b[p][i]); the vector is stored first."""
        elem_t = t.elem
        vector = self.materialize(a if a_vector else b, out)
        matrix = b if a_vector else a

        def elem(i, stmts):
            def term(p, s):
                x = self.element(vector, p, s)
                y = (self.element(self.element(matrix, p, s), i, s) if a_vector
                     else self.element(self.element(matrix, i, s), p, s))
                return self.emit(s, f"np.{elem_t.dtype.name}({x} * {y})")
            terms = Delayed(k, term, Seq(elem_t, None))
            zero = f"np.{elem_t.dtype.name}(0)"
            return self.reduce(terms, zero, lambda x, y, s: self.emit(
                s, f"np.{elem_t.dtype.name}({x} + {y})"), elem_t, stmts, commutative=True)
        n = self.row_length(b) if a_vector else length_of(a)
        return Delayed(n, elem, t)

    # -- fusion of a consumer ----------------------------------------------------------------
    def fused_product(self, xs: Delayed, out: list):
        """Store the rows `xs` as one MatMul whose epilogue is their per-element code, when
        that code reads a product's element at the store's own indices and is otherwise
        scalar; else None (nothing emitted)."""
        if self.depth > 0 or not self.eager or self.epilogue is not None:
            return None
        i, j, acc = self.fresh("i"), self.fresh("j"), self.fresh("acc")
        self.epilogue, rows, inner = Epilogue(i, j, acc), [], []
        notes, errors = len(self.notes), len(self.errors)  # kept only if the attempt is
        self.depth += 2
        try:
            row = xs.elem(i, rows)
            value = self.element(row, j, inner) if isinstance(row, (Mat, Delayed)) else None
        finally:
            self.depth -= 2
            e, self.epilogue = self.epilogue, None
        p = e.found
        if (p is None or value is None or not isinstance(value, str) or length_of(xs) != p.rows
                or length_of(row) != p.cols or not scalar_code(rows + inner)):
            del self.notes[notes:], self.errors[errors:]  # (no code refers to them)
            return None
        name, dtype = self.fresh("fused"), xs.type.elem.elem.dtype.name
        out += [Alloc(name, dtype, (p.rows, p.cols)),
                replace(p, out=name, i=i, j=j, acc=acc, body=tuple(rows + inner), value=value,
                        dtype=dtype)]
        self.notes.append(f"{name}: the product {p.out} with its consumer's per-element code "
                          "as the epilogue of its tiles")
        return Mat(name, xs.type, (p.rows, p.cols))


def scalar_code(stmts) -> bool:
    """Statements an epilogue may hold: assignments, failures, branches of those."""
    return all(isinstance(s, (Assign, Fail)) or
               (isinstance(s, If) and scalar_code(s.then) and scalar_code(s.orelse))
               for s in stmts)


def drop_unused_products(program: KernelProgram, eager: dict) -> KernelProgram:
    """Remove each eager product (its Alloc and MatMul) that nothing reads: read by other
    statements, or by the eager products they read, and so on."""
    if not eager:
        return program
    skip = set(map(id, eager.values()))
    text = " ".join(strings([(f.body, f.result) for f in program.functions], skip))
    alive = {name for name in eager if re.search(rf"\b{name}\b", text)}
    todo = list(alive)
    while todo:  # the products a live product reads live too
        read = f"{eager[todo[0]].a} {eager[todo.pop(0)].b}"
        found = {n for n in eager if n not in alive and re.search(rf"\b{n}\b", read)}
        alive |= found
        todo += found
    dead = set(eager) - alive
    return replace(program, functions=tuple(replace(f, body=without(f.body, dead))
                                            for f in program.functions)) if dead else program


def without(stmts: tuple, dead: set) -> tuple:
    kept = []
    for s in stmts:
        if isinstance(s, (Alloc, MatMul)) and getattr(s, "name", getattr(s, "out", None)) in dead:
            continue
        if is_dataclass(s):
            s = replace(s, **{f.name: without(v, dead) for f in fields(s)
                              if isinstance(v := getattr(s, f.name), tuple)
                              and all(is_dataclass(x) for x in v)})
        kept.append(s)
    return tuple(kept)


def strings(node, skip: set):
    """Every string in a kernel-IR tree, except in the nodes whose ids are in `skip` (and
    Allocs, whose names are not reads)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, (tuple, list)):
        for x in node:
            yield from strings(x, skip)
    elif is_dataclass(node) and id(node) not in skip and not isinstance(node, Alloc):
        for f in fields(node):
            yield from strings(getattr(node, f.name), skip)
