"""Folds and scans of the rows of a matrix whose operator is an elementwise map:
`reduce(lambda a, b: map(g, a, b), rows, init)` (column sums) and the scans of the same
form (running column sums). Each column is folded apart, so the work is cut into tiles of a
chunk of rows by a block of columns: a tile reads its rows along the row, and every core has
work whatever the matrix's shape. The back end sets the tile shape (ROW_CHUNKS,
COLUMN_BLOCK): a CPU takes a few chunks per core and wide blocks; a GPU as many chunks as
it has blocks in flight, and a thread per column of each. Regrouping rows into chunks is
allowed because the language requires the operators of reduce and scan to be associative.
"""

from __future__ import annotations

from dataclasses import replace

from .ir import Lambda, Prim, Var
from .kernel_ir import Alloc, Assign, If, Loop, Store
from .lower_values import Closure, Mat, NotLowered, length_of


class RowRules:
    """Lowering rules for folds of rows (mixed into the Lowerer)."""

    def reduce_columns(self, let, prim, args, out):
        """Two parallel loops: (1) each tile folds its rows, in order, into a row of partial
        results; (2) each block of columns folds `init` and the chunks' partials, in chunk
        order. With no rows the result is `init`; otherwise `init` must have the rows'
        length, as the map inside requires."""
        fn, xs, init = args
        g, swapped, loc, xs = self.elementwise_rows(prim, fn, xs, out, "reductions")
        (rows, cols), t = xs.dims, let.var.type.elem
        out.append(If(f"{rows} != 0 and {length_of(init)} != {cols}",
                      (self.fail("value", "map got sequences of different lengths", loc),), ()))
        n, chunks, blocks = self.fresh("n"), self.fresh("chunks"), self.fresh("blocks")
        part, acc = self.fresh("partial"), self.fresh("columns")
        out += [Assign(n, f"({cols} if {rows} != 0 else {length_of(init)})"),
                Assign(chunks, f"min({rows}, ROW_CHUNKS)"),
                Assign(blocks, f"({n} + COLUMN_BLOCK - 1) // COLUMN_BLOCK"),
                Alloc(part, t.dtype.name, (chunks, n)), Alloc(acc, t.dtype.name, (n,))]
        combine = self.elementwise(g, swapped)
        parallel = self.depth == 0
        self.depth += 1
        work = f"{rows} * {n}"  # a small fold runs serially (cpu codegen)
        out.append(replace(self.column_tiles(xs, part, chunks, chunks, blocks, n, combine,
                                             parallel), work=work))
        out.append(replace(self.column_totals(init, part, acc, chunks, blocks, n, combine,
                                              parallel), work=work))
        self.depth -= 1
        return Mat(acc, let.var.type, (n,))

    def scan_rows(self, prim, fn, xs, init, reverse: bool, let, out):
        """Three parallel loops: (1) each tile but the last chunk's folds its rows into a row
        of partials; (2) each block of columns makes every chunk's carry, the start (an
        exclusive scan's `init`) and the chunks before, in order; (3) each tile scans its
        rows from its carry, writing the result. A reverse scan is the same over the rows
        taken from the end, combining element first."""
        g, swapped, loc, xs = self.elementwise_rows(prim, fn, xs, out, "scans")
        (rows, cols), t = xs.dims, let.var.type.elem.elem
        n = cols if init is None else length_of(init)
        if init is not None:  # the start meets every row, as the map inside requires
            out.append(If(f"{rows} != 0 and {n} != {cols}", (self.fail(
                "value", "map got sequences of different lengths", loc),), ()))
        chunks, blocks = self.fresh("chunks"), self.fresh("blocks")
        part, carry, res = self.fresh("partial"), self.fresh("carry"), self.fresh("scanned")
        out += [Assign(chunks, f"min({rows}, ROW_CHUNKS)"),
                Assign(blocks, f"({n} + COLUMN_BLOCK - 1) // COLUMN_BLOCK"),
                Alloc(part, t.dtype.name, (chunks, cols)),
                Alloc(carry, t.dtype.name, (chunks, n)), Alloc(res, t.dtype.name, (rows, n))]
        combine = self.elementwise(g, swapped != reverse)
        at = (lambda k: f"{rows} - 1 - ({k})") if reverse else (lambda k: k)  # noqa: E731
        parallel = self.depth == 0
        self.depth += 1
        work = f"{rows} * {n}"
        out.append(replace(self.column_tiles(xs, part, f"{chunks} - 1", chunks, blocks, cols,
                                             combine, parallel, at), work=work))
        out.append(replace(self.column_carries(init, part, carry, chunks, blocks, n, combine,
                                               parallel), work=work))
        out.append(replace(self.scan_tiles(xs, carry, res, init is None, chunks, blocks, n,
                                           combine, parallel, at), work=work))
        self.depth -= 1
        return Mat(res, let.var.type, (rows, n))

    # -- parts --------------------------------------------------------------------------
    def elementwise_rows(self, prim, fn, xs, out, what: str):
        """(g, swapped, loc, the matrix) for `lambda a, b: map(g, a, b)` over a matrix (the
        lambda written in place or bound to a name)."""
        found = elementwise_combine(fn.lam) if isinstance(fn, Closure) else None
        xs = self.materialize(xs, out) if found else None
        if not (isinstance(xs, Mat) and len(xs.dims) == 2):
            raise NotLowered(f"{what} over sequences, other than elementwise maps of rows")
        g_atom, swapped, loc = found
        return self.atom(g_atom, fn.env), swapped, loc, xs

    def elementwise(self, g, swapped: bool):
        def combine(a, b, stmts):
            return self.apply(g, [b, a] if swapped else [a, b], stmts)
        return combine

    def column_block(self, block: str, n: str) -> tuple[str, str, str, list]:
        """(j, lo, hi, statements): the columns lo..hi-1 of `block`, and an index j over them,
        read unsigned (lo >= 0; the negative-index wrap would stop LLVM vectorising)."""
        j, lo, hi = self.fresh("j"), self.fresh("lo"), self.fresh("hi")
        self.unsigned_reads.add(j)
        return j, lo, hi, [Assign(lo, f"{block} * COLUMN_BLOCK"),
                           Assign(hi, f"min({lo} + COLUMN_BLOCK, {n})")]

    def chunk_tile(self, tile: str, chunks: str, blocks: str, n: str, rows: str):
        """(c, first, last, j, lo, hi, statements): tile -> its chunk of rows, its columns."""
        c, first, last = self.fresh("c"), self.fresh("first"), self.fresh("last")
        j, lo, hi, head = self.column_block(f"({tile} % {blocks})", n)
        return c, first, last, j, lo, hi, [
            Assign(c, f"{tile} // {blocks}"), Assign(first, f"{c} * {rows} // {chunks}"),
            Assign(last, f"({c} + 1) * {rows} // {chunks}"), *head]

    def column_tiles(self, xs, part, tiled, chunks, blocks, n, combine, parallel,
                     at=lambda k: k) -> Loop:
        """part[c] = the fold of chunk c's rows (for the first `tiled` chunks); `at` maps a
        position to its row (a reverse scan's run from the end)."""
        tile, i = self.fresh("tile"), self.fresh("i")
        c, first, last, j, lo, hi, head = self.chunk_tile(tile, chunks, blocks, n,
                                                          length_of(xs))
        cell = f"{c}, np.uint64({j})"
        start: list = []
        start.append(Store(part, cell, self.element(self.element(xs, at(first), start), j,
                                                    start)))
        fold: list = []
        row = self.element(self.element(xs, at(i), fold), j, fold)
        fold.append(Store(part, cell, combine(f"{part}[{cell}]", row, fold)))
        body = (*head, Loop(j, hi, tuple(start), parallel=False, start=lo),
                Loop(i, last, (Loop(j, hi, tuple(fold), parallel=False, start=lo),),
                     parallel=False, start=f"{first} + 1"))
        return Loop(tile, f"({tiled}) * {blocks}", body, parallel=parallel)

    def column_totals(self, init, part, acc, chunks, blocks, n, combine, parallel) -> Loop:
        block, c = self.fresh("block"), self.fresh("c")
        j, lo, hi, head = self.column_block(block, n)
        at = f"np.uint64({j})"
        start: list = []
        start.append(Store(acc, at, self.element(init, j, start)))
        fold: list = []
        fold.append(Store(acc, at, combine(f"{acc}[{at}]", f"{part}[{c}, {at}]", fold)))
        body = (*head, Loop(j, hi, tuple(start), parallel=False, start=lo),
                Loop(c, chunks, (Loop(j, hi, tuple(fold), parallel=False, start=lo),),
                     parallel=False))
        return Loop(block, blocks, body, parallel=parallel)

    def column_carries(self, init, part, carry, chunks, blocks, n, combine, parallel) -> Loop:
        """carry[c] = init (exclusive), then the chunks before c, folded in order; an
        inclusive scan's chunk 0 has none (its carry row is not read)."""
        block, c = self.fresh("block"), self.fresh("c")
        j, lo, hi, head = self.column_block(block, n)
        cell, before = f"{c}, np.uint64({j})", f"{c} - 1, np.uint64({j})"
        first: list = []
        if init is not None:
            first.append(Store(carry, f"0, np.uint64({j})", self.element(init, j, first)))
        fold: list = []
        folded = Store(carry, cell, combine(f"{carry}[{before}]", f"{part}[{before}]", fold))
        step = [*fold, folded]
        if init is None:  # chunk 1 starts from chunk 0's fold
            step = [If(f"{c} == 1", (Store(carry, cell, f"{part}[{before}]"),), tuple(step))]
        body = (*head, Loop(j, hi, tuple(first), parallel=False, start=lo),
                Loop(c, chunks, (Loop(j, hi, tuple(step), parallel=False, start=lo),),
                     parallel=False, start="1"))
        return Loop(block, f"({blocks} if {chunks} > 0 else 0)", body, parallel=parallel)

    def scan_tiles(self, xs, carry, res, inclusive, chunks, blocks, n, combine, parallel,
                   at) -> Loop:
        """Each tile's rows from its carry: res[row] = the scan up to (inclusive) or before
        (exclusive) the row, the previous row of res serving as the accumulator."""
        tile, i = self.fresh("tile"), self.fresh("i")
        c, first, last, j, lo, hi, head = self.chunk_tile(tile, chunks, blocks, n,
                                                          length_of(xs))
        cell = lambda k: f"{at(k)}, np.uint64({j})"  # noqa: E731  (k: a position)
        own, seeded = [], []
        if inclusive:
            own.append(Store(res, cell(first), self.element(self.element(
                xs, at(first), own), j, own)))
            seeded.append(Store(res, cell(first), combine(
                f"{carry}[{c}, np.uint64({j})]",
                self.element(self.element(xs, at(first), seeded), j, seeded), seeded)))
        else:
            seeded.append(Store(res, cell(first), f"{carry}[{c}, np.uint64({j})]"))
        step: list = []
        row = at(f"{i} - 1") if not inclusive else at(i)
        value = self.element(self.element(xs, row, step), j, step)
        step.append(Store(res, cell(i), combine(f"{res}[{cell(f'{i} - 1')}]", value, step)))
        first_row = (If(f"{c} == 0", (Loop(j, hi, tuple(own), parallel=False, start=lo),),
                        (Loop(j, hi, tuple(seeded), parallel=False, start=lo),))
                     if inclusive else Loop(j, hi, tuple(seeded), parallel=False, start=lo))
        body = (*head, first_row,
                Loop(i, last, (Loop(j, hi, tuple(step), parallel=False, start=lo),),
                     parallel=False, start=f"{first} + 1"))
        return Loop(tile, f"{chunks} * {blocks}", body, parallel=parallel)


def elementwise_combine(fn):
    """(g, swapped, loc) when `fn` is `lambda a, b: map(g, a, b)` (swapped: `map(g, b, a)`)
    with `g` a function or a name bound outside; else None."""
    if not (isinstance(fn, Lambda) and len(fn.params) == 2 and len(fn.body.lets) == 1):
        return None
    (let,) = fn.body.lets
    value, (a, b) = let.value, (p.name for p in fn.params)
    if not (isinstance(value, Prim) and value.name == "map" and len(value.args) == 3
            and fn.body.result == let.var and all(isinstance(x, Var) for x in value.args[1:])):
        return None
    pair = tuple(x.name for x in value.args[1:])
    if pair not in ((a, b), (b, a)) or (isinstance(value.args[0], Var)
                                        and value.args[0].name in (a, b)):
        return None
    return value.args[0], pair == (b, a), value.loc
