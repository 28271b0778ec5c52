"""Lowering rules of the sequence primitives (a mixin of `Lowerer`, see lower.py).

Producers return `Delayed` sequences; consumers pull elements through them and emit one
statement each: `Reduce`, `Scan`, `Filter`, `SortIndices`, or a `Loop` for scatters.
"""

from __future__ import annotations

import re

from ..errors import Loc
from .ir import Lambda, Prim, Var
from .kernel_ir import (Alloc, Assign, Combine, Filter, If, Loop, ObjectMode, Reduce, Scan,
                        SortIndices, Store)
from .lower_histograms import HistogramRules
from .lower_iterate import IterateRules
from .lower_rows import RowRules
from .lower_values import (Closure, Cols, Delayed, Mat, NotLowered, length_of, pack, typed,
                           unpack)
from .scalar_code import literal, scalar_code
from .types import BOOL, INT64, Scalar, Seq, Tuple


# a shift of an index range: a name, a length (`w.shape[0]`) or an integer literal
SHIFT = re.compile(r"^(?:-?\d+|np\.int64\(-?\d+\)|[A-Za-z_]\w*(?:\.shape\[\d+\])?)$")


class SequenceRules(RowRules, HistogramRules, IterateRules):
    """`p_<primitive>(let, prim, args, out)` for the sequence primitives."""

    # -- sequences: producers -------------------------------------------------------------
    def same_lengths(self, name: str, seqs, loc: Loc, out: list) -> None:
        for other in seqs[1:]:
            if length_of(other) == length_of(seqs[0]):
                continue
            message = f"{name} got sequences of different lengths"
            out.append(If(f"{length_of(seqs[0])} != {length_of(other)}",
                          (self.fail("value", message, loc),), ()))

    def p_map(self, let, prim, args, out):
        fn, seqs = args[0], args[1:]
        t = let.var.type
        self.same_lengths("map", seqs, prim.loc, out)

        def elem(i, stmts):
            return self.apply(fn, [self.element(s, i, stmts) for s in seqs], stmts)
        cheap = isinstance(fn, Closure) and scalar_code(fn.lam.body) and all(
            (isinstance(s, Mat) and not isinstance(s.type.elem, Seq)) or
            (isinstance(s, Delayed) and s.cheap) for s in seqs)
        return Delayed(length_of(seqs[0]), elem, t, cheap=cheap)

    def p_zip(self, let, prim, args, out):
        self.same_lengths("zip", args, prim.loc, out)
        return Cols(tuple(args), let.var.type)

    def p_unzip(self, let, prim, args, out):
        xs = args[0]
        if isinstance(xs, Delayed) and xs.cheap and \
                all(isinstance(e, Scalar) for e in xs.type.elem.elems):
            # each column recomputes its field: no arrays (which gpu0 cannot make inside
            # a kernel), and less traffic than storing the columns and reading them back
            return tuple(Delayed(xs.length, lambda i, stmts, k=k: xs.elem(i, stmts)[k],
                                 Seq(e, xs.type.length), cheap=True)
                         for k, e in enumerate(xs.type.elem.elems))
        return self.materialize(xs, out).cols

    def index_range(self, length: str, start: str, at, t, cheap: bool = False) -> Delayed:
        """Element i is the index `at(i)`, known to lie in [start, start + length): reading
        a sequence there is checked once per range, not per element (see `checked`)."""
        def elem(i, stmts):
            # a name of its own, assigned once here: the expression itself ("0", or a name
            # assigned again later) may stand elsewhere for an index outside the range
            index = self.fresh("k")
            stmts.append(Assign(index, at(i)))
            self.range_elements[index] = (start, length)
            self.range_positions[index] = (i, start)  # (every caller's at(i) is start + i)
            return index
        return Delayed(length, elem, t, cheap=cheap)

    def offset_range_element(self, name: str, prim: str, args: list, t) -> None:
        """`name` = k + c, c + k or k - c, for k an element of an index range and c an
        integer: an element of the shifted range, so a read there is checked once per range
        too (the gates of a recurrent cell, read at `hidden + j` for j in range(hidden))."""
        if not (isinstance(t, Scalar) and t.dtype.kind == "i" and len(args) == 2):
            return
        k, c = args
        if prim == "op_add" and c in self.range_elements and k not in self.range_elements:
            k, c = c, k
        if k not in self.range_elements or c in self.range_elements or not SHIFT.match(c):
            return
        if prim not in ("op_add", "op_sub"):
            return
        sign = "+" if prim == "op_add" else "-"
        start, length = self.range_elements[k]
        self.range_elements[name] = (f"({start} {sign} {c})", length)
        if k in self.range_positions:
            position, offset = self.range_positions[k]
            self.range_positions[name] = (position, f"({offset} {sign} {c})")

    def shifted_positions(self, value, t, n: str, i: str, body: list, out: list):
        """A column of integers that are the loop's positions plus a number the same for
        every element (`offset + j` for j in range(n)), not stored but kept as an index
        range: the indices of a derivative's (index, value) pairs for reads at `offset + j`
        (a recurrent cell's gates), whose scatter-add then adds into a contiguous run,
        checked once. (Columns only: a materialised sequence is otherwise stored.)"""
        if not (isinstance(value, str) and isinstance(t, Scalar) and t.dtype.kind == "i"
                and self.range_positions.get(value, (None,))[0] == i):
            return None
        try:
            offset = self.hoisted_length(self.range_positions[value][1], body, i, out)
        except NotLowered:
            return None
        return self.index_range(n, offset, lambda p: f"({offset} + {p})", Seq(t, None))

    def p_indices(self, let, prim, args, out):
        return self.index_range(length_of(args[0]), "0", lambda i: i, let.var.type, cheap=True)

    def p_range(self, let, prim, args, out):
        if len(args) == 1:
            return self.index_range(f"max(np.int64({args[0]}), 0)", "0", lambda i: i,
                                    let.var.type)
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
        return self.index_range(f"max(np.int64({args[1]}) - {lo}, 0)", lo,
                                lambda i: f"({lo} + {i})", let.var.type)

    def p_gather(self, let, prim, args, out):
        xs, idx = args
        return Delayed(length_of(idx), lambda i, stmts: self.element(
            xs, self.checked(self.element(idx, i, stmts), xs, stmts, prim.loc, "gather"),
            stmts), let.var.type)

    def p_join(self, let, prim, args, out):
        """Element k of the joined rows is element k % m of row k // m, m the rows' length
        (the same for every row: computed before the loop, see `hoisted_length`)."""
        xss = args[0]
        k, probe = self.fresh("k"), []
        row = self.element(xss, k, probe)
        if not isinstance(row, (Mat, Delayed)) or k in row.length:
            raise NotLowered("join of rows whose length depends on the row")
        m = self.emit(out, self.hoisted_length(row.length, probe, k, out))
        n = self.emit(out, f"{length_of(xss)} * {m}")
        # the joined rows of a stored 3-axis array, stored, are its view (a recurrence's
        # recorded states as one matrix for one product over all steps)
        elem = let.var.type.elem
        reshapes = (xss, xss.dims[2]) if isinstance(xss, Mat) and len(xss.dims) == 3 and \
            isinstance(elem, Seq) and isinstance(elem.elem, Scalar) else None
        return Delayed(n, lambda i, stmts: self.joined_element(xss, m, i, stmts),
                       let.var.type, joined=(xss, m), reshapes=reshapes)

    def joined_element(self, xss, m: str, i: str, stmts: list):
        """Element i of join(xss): element i % m of row i // m. Where i is an element of a
        shifted index range (`k * width + c` for c in range(width): a row of a reshape, such
        as an im2col's derivative reading a pixel's taps), a flag says whether the whole
        range lies in one row; then the row and the first column are divided out once per
        range, and the loop, made twice (inner_loops.py), reads the row contiguously."""
        row, column = f"({i} // {m})", f"({i} % {m})"
        ranged = self.range_of_checked.get(i, i)  # (the index before its check)
        if ranged in self.range_positions and ranged in self.range_elements:
            position, offset = self.range_positions[ranged]
            length = self.range_elements[ranged][1]
            first, start, within = self.fresh("q"), self.fresh("r"), self.fresh("within")
            row, column = self.fresh("row"), self.fresh("column")
            # (within: the range lies in row `first`, which exists; i is then the checked
            # index unchanged)
            stmts += [Assign(first, f"{offset} // max({m}, 1)"),
                      Assign(start, f"{offset} % max({m}, 1)"),
                      Assign(within, f"(0 <= {offset} and {first} < {length_of(xss)} and "
                                     f"{start} + {length} <= {m})"),
                      Assign(row, first), Assign(column, f"({start} + {position})"),
                      If(f"not {within}", (Assign(row, f"({i} // {m})"),
                                           Assign(column, f"({i} % {m})")), ())]
            self.range_flags.add(within)
            self.divided_once |= {first, start}
        return self.element(self.element(xss, row, stmts), column, stmts)

    def p_split(self, let, prim, args, out):
        """Row i of the split is the elements [i * k, (i + 1) * k), delayed."""
        xs, (k,) = args[0], args[1:]
        k = self.emit(out, f"np.int64({k})")
        n = length_of(xs)
        message = "split needs a positive row length that divides the sequence's length"
        out.append(If(f"{k} <= 0 or {n} % {k} != 0",
                      (self.fail("value", message, prim.loc), Assign(k, "1")), ()))
        row_type = let.var.type.elem

        def row(i, stmts):
            joined = xs.joined if isinstance(xs, Delayed) else None
            segment = None if joined is None else (*joined, f"({i} * {k})")
            return Delayed(k, lambda j, inner: self.element(xs, f"({i} * {k} + {j})", inner),
                           row_type, segment=segment)
        joined = xs.joined if isinstance(xs, Delayed) else None
        matrix = joined[0] if joined is not None else None
        if isinstance(matrix, Delayed) and matrix.stored is not None:  # (a product)
            matrix = matrix.stored
        reshapes = (matrix, k) if isinstance(matrix, Mat) and len(matrix.dims) == 2 and \
            isinstance(row_type, Seq) and isinstance(row_type.elem, Scalar) else None
        return Delayed(f"({n} // {k})", row, let.var.type, reshapes=reshapes)

    def p_replicate(self, let, prim, args, out):
        x, n = args
        return Delayed(f"max(np.int64({n}), 0)", lambda i, stmts: x, let.var.type, cheap=True)

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
        if isinstance(xs.type.elem, Seq):
            return self.reduce_columns(let, prim, args, out)
        return self.reduce(xs, init, lambda a, b, stmts: self.apply(fn, [a, b], stmts),
                           let.var.type, out, commutative=is_commutative(prim.args[0]))

    def p_sum(self, let, prim, args, out):
        t = let.var.type
        zero = literal(0, t)
        return self.reduce(args[0], zero, lambda a, b, stmts: self.emit(
            stmts, f"np.{t.dtype.name}({a} + {b})"), t, out, commutative=True)

    def p_any(self, let, prim, args, out):
        return self.reduce(args[0], "False", lambda a, b, s: self.emit(s, f"({a} or {b})"),
                           BOOL, out, commutative=True)

    def p_all(self, let, prim, args, out):
        return self.reduce(args[0], "True", lambda a, b, s: self.emit(s, f"({a} and {b})"),
                           BOOL, out, commutative=True)

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

    # -- reductions and scans -------------------------------------------------------------
    def folding(self, xs, combine, t, what: str):
        """The parts of a fold over `xs`: fields, index, element code, element, and the
        combine (the operator applied to fresh left and right names)."""
        fields = list(t.elems) if isinstance(t, Tuple) else [t]
        if not all(isinstance(f, Scalar) for f in fields):
            raise NotLowered(f"{what} over sequences")
        i, body, cbody = self.fresh("i"), [], []
        self.depth += 1
        elem = self.element(xs, i, body)
        left = tuple(self.fresh("l") for _ in fields)
        right = tuple(self.fresh("r") for _ in fields)
        combined = combine(pack(left, t), pack(right, t), cbody)
        self.depth -= 1
        op = Combine(left, right, tuple(cbody), tuple(unpack(combined, t)))
        return fields, i, tuple(body), tuple(unpack(elem, t)), op

    def reduce(self, xs, init, combine, t, out: list, commutative: bool = False):
        """acc = init; acc = combine(acc, x) for every x: one Reduce statement."""
        fields, i, body, elem, op = self.folding(xs, combine, t, "reductions")
        acc = tuple(self.fresh("acc") for _ in fields)
        out.append(Reduce(i, length_of(xs), body, elem, acc, typed(unpack(init, t), fields),
                          tuple(f.dtype.name for f in fields), op,
                          parallel=self.depth == 0, commutative=commutative))
        return pack(acc, t)

    def scan(self, xs, init, reverse: bool, combine, t, out: list) -> Mat | Cols:
        fields, i, body, elem, op = self.folding(xs, combine, t, "scans")
        names = tuple(self.fresh("scan") for _ in fields)
        start = None if init is None else typed(unpack(init, t), fields)
        # Allocated apart, so that a result can be the caller's array (outputs.py)
        out += [Alloc(a, f.dtype.name, (length_of(xs),)) for a, f in zip(names, fields)]
        out.append(Scan(i, length_of(xs), body, elem, names, tuple(f.dtype.name for f in fields),
                        start, reverse, op, parallel=self.depth == 0))
        return self.arrays(names, t, length_of(xs))

    # -- filters, scatters, sorts ---------------------------------------------------------
    def arrays(self, names, t, n: str):
        if isinstance(t, Tuple):
            return Cols(tuple(Mat(a, Seq(f, None), (n,)) for a, f in zip(names, t.elems)),
                        Seq(t, None))
        return Mat(names[0], Seq(t, None), (n,))

    def p_scan(self, let, prim, args, out):
        return self.scan_prim(prim, args[0], args[1], None, False, let, out)

    def p_rscan(self, let, prim, args, out):
        return self.scan_prim(prim, args[0], args[1], None, True, let, out)

    def p_exclusive_scan(self, let, prim, args, out):
        return self.scan_prim(prim, args[0], args[2], args[1], False, let, out)

    def p_exclusive_rscan(self, let, prim, args, out):
        return self.scan_prim(prim, args[0], args[2], args[1], True, let, out)

    def scan_prim(self, prim, fn, xs, init, reverse, let, out):
        if isinstance(xs.type.elem, Seq):
            return self.scan_rows(prim, fn, xs, init, reverse, let, out)
        def combine(a, b, stmts):  # reverse scans combine element-first, as the reference
            return self.apply(fn, [b, a] if reverse else [a, b], stmts)
        return self.scan(xs, init, reverse, combine, let.var.type.elem, out)

    def p_filter(self, let, prim, args, out):
        fn, xs = args
        t = let.var.type.elem
        fields = list(t.elems) if isinstance(t, Tuple) else [t]
        if not all(isinstance(f, Scalar) for f in fields):
            return self.filter_rows(fn, xs, let, out)
        i, body = self.fresh("i"), []
        self.depth += 1
        elem = self.element(xs, i, body)
        keep = self.apply(fn, [elem], body)
        self.depth -= 1
        names = tuple(self.fresh("kept") for _ in fields)
        out.append(Filter(i, length_of(xs), tuple(body), keep, tuple(unpack(elem, t)), names,
                          tuple(f.dtype.name for f in fields), parallel=self.depth == 0))
        return self.arrays(names, t, f"{names[0]}.shape[0]")

    def filter_rows(self, fn, xs, let, out):
        """A filter of rows keeps the indices of the rows that pass, in order; the result
        gathers them."""
        if not isinstance(xs, (Mat, Delayed)):
            raise NotLowered("filters of tuples holding sequences")
        i, body = self.fresh("i"), []
        self.depth += 1
        keep = self.apply(fn, [self.element(xs, i, body)], body)
        self.depth -= 1
        kept = self.fresh("kept")
        out.append(Filter(i, length_of(xs), tuple(body), keep, (i,), (kept,), ("int64",),
                          parallel=self.depth == 0))
        return Delayed(f"{kept}.shape[0]", lambda k, stmts: self.element(
            xs, f"{kept}[{k}]", stmts), let.var.type)

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
            return self.scatter_tuples(src, idx, dst, prim, out)
        self.same_lengths(prim.name, [src, idx], prim.loc, out)
        base = self.materialize(dst, out)
        copy = self.fresh("scattered")
        if self.depth == 0:
            out.append(Assign(copy, f"{base.expr}.copy()"))
        else:  # inside an element's code: an Alloc, which gpu0 allocates before the launch
            i = self.fresh("i")  # (kernels cannot allocate: `.copy()` failed to compile)
            out += [Alloc(copy, base.type.elem.dtype.name, (f"{base.expr}.shape[0]",)),
                    Loop(i, f"{base.expr}.shape[0]", (Store(copy, i, f"{base.expr}[{i}]"),),
                         parallel=False)]
        result = Mat(copy, base.type, (f"{copy}.shape[0]",))
        k, body = self.fresh("k"), []
        self.depth += 1
        j = self.checked(self.element(idx, k, body), result, body, prim.loc, prim.name)
        body.append(Store(copy, j, self.element(src, k, body)))
        self.depth -= 1
        out.append(Loop(k, length_of(idx), tuple(body), parallel=self.depth == 0))
        return result

    def scatter_tuples(self, src, idx, dst, prim, out):
        """Tuples land whole even where indices repeat: each destination first records
        which k won it (one 8-byte store, so exactly one k), then every field is read
        from the winner's element, or from dst where none was sent."""
        t = dst.type.elem
        if not (isinstance(t, Tuple) and all(isinstance(f, Scalar) for f in t.elems)):
            raise NotLowered("scatter of rows or of nested tuples")
        self.same_lengths(prim.name, [src, idx], prim.loc, out)
        base = self.materialize(dst, out)
        n, winner = length_of(base), self.fresh("winner")
        fill, k, body = self.fresh("i"), self.fresh("k"), []
        out += [Alloc(winner, "int64", (n,)),
                Loop(fill, n, (Store(winner, fill, "-1"),), parallel=self.depth == 0)]
        self.depth += 1
        j = self.checked(self.element(idx, k, body), base, body, prim.loc, prim.name)
        body.append(Store(winner, j, k))
        self.depth -= 1
        out.append(Loop(k, length_of(idx), tuple(body), parallel=self.depth == 0))

        def elem(i, stmts):
            w, values = self.fresh("w"), tuple(self.fresh("v") for _ in t.elems)
            sent: list = []
            sent += [Assign(v, e) for v, e in zip(values, self.element(src, w, sent))]
            kept: list = []
            kept += [Assign(v, e) for v, e in zip(values, self.element(base, i, kept))]
            stmts += [Assign(w, f"{winner}[{i}]"), If(f"{w} >= 0", tuple(sent), tuple(kept))]
            return values
        return Delayed(n, elem, dst.type)

    def p_shift(self, let, prim, args, out):
        xs, offset, default = args
        n, t = length_of(xs), xs.type.elem
        if not (isinstance(t, Scalar) or isinstance(t, Tuple)
                and all(isinstance(f, Scalar) for f in t.elems)):
            raise NotLowered("shift of rows or of nested tuples")

        def elem(i, stmts):
            j, values = self.fresh("j"), tuple(self.fresh("shifted") for _ in unpack(default, t))
            stmts.append(Assign(j, f"{i} + {offset}"))
            inside: list = []
            got = unpack(self.element(xs, j, inside), t)
            inside += [Assign(v, e) for v, e in zip(values, got)]
            outside = tuple(Assign(v, d) for v, d in zip(values, unpack(default, t)))
            stmts.append(If(f"0 <= {j} < {n}", tuple(inside), outside))
            return pack(values, t)
        return Delayed(n, elem, let.var.type)

    def p_sort(self, let, prim, args, out):
        order = comparison_order(prim.args[0])
        if order is None or not isinstance(let.var.type.elem, Scalar) or self.depth > 0:
            return self.merge_sort(args[0], args[1], let, out)  # (no NumPy inside loops)
        xs = self.materialize(args[1], out)
        name, t = self.fresh("sorted"), let.var.type.elem
        out.append(ObjectMode(name, f"{t.dtype.name}[::1]",
                              f"sort_numbers({xs.expr}, {order == 'descending'})"))
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


COMMUTATIVE = {"op_add", "op_mul", "op_and", "op_or", "op_xor", "maximum", "minimum"}


def is_commutative(fn) -> bool:
    """Whether `fn` is `lambda a, b: p(a, b)` (or `p(b, a)`) for a commutative operator `p`
    (floating-point + and * are commutative, though not associative)."""
    if not (isinstance(fn, Lambda) and len(fn.params) == 2 and len(fn.body.lets) == 1):
        return False
    value = fn.body.lets[0].value
    names = {p.name for p in fn.params}
    return (isinstance(value, Prim) and value.name in COMMUTATIVE and len(value.args) == 2
            and all(isinstance(a, Var) for a in value.args)
            and {a.name for a in value.args} == names and fn.body.result == fn.body.lets[0].var)
