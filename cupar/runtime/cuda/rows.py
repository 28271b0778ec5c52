"""A block per row: the second kernel of a parallel map whose elements are long rows.

A thread per row (the map kernel) suits short rows, but a warp then reads 32 rows far apart,
and a few thousand rows leave most of a GPU idle. When every inner loop and reduction of a
row can be shared out, the map also gets a kernel that gives each row a block: the row's
scalar statements run in every thread alike (so their values and branches are the same in
all of them and barriers are safe), an inner loop strides its elements over the threads and
ends with a barrier (a later loop may read what another thread wrote), and an inner
reduction folds each thread's elements, then the threads' values in a shared-memory tree,
in order. The driver picks the kernel at the call from the length of the rows.
"""

from __future__ import annotations

from ...compiler.kernel_ir import (Alloc, Assign, Break, Continue, Fail, Filter, If, Loop, Reduce,
                                  Scan, SortIndices, Store, While)
from .schemes import TID, block_tree, flag_fold, walk, zero

SCALAR = (Assign, Alloc, Store, Fail, Break, Continue)
ALLOCATING = (Alloc, Scan, Filter, SortIndices)  # (one scratch row per outer element)


def row_length(s: Loop, host_names: set, identifiers) -> str | None:
    """The length of the first inner loop or reduction of the map `s` when a block can run
    its rows and the driver can compute that length; else None (a thread per row only)."""
    if not shareable(s.body):
        return None
    stops = [x.stop for x in inner_loops(s.body)]
    if stops and identifiers([stops[0]]) <= host_names | {"np", "min", "max"}:
        return stops[0]
    return None


def shareable(stmts) -> bool:
    """Row-level statements a block can run together: scalar ones, branches and loops of
    them, and inner loops and reductions that allocate nothing (threads would share it)."""
    for s in stmts:
        if isinstance(s, (Loop, Reduce)):
            if s.parallel or any(isinstance(x, ALLOCATING) for x in walk(s.body)):
                return False
        elif isinstance(s, (If, While)):
            if not shareable(nested(s)):
                return False
        elif not isinstance(s, SCALAR):
            return False
    return True


def inner_loops(stmts):
    for s in stmts:
        if isinstance(s, (Loop, Reduce)):
            yield s
        elif isinstance(s, (If, While)):
            yield from inner_loops(nested(s))


def nested(s) -> tuple:
    """The row-level statements inside a branch or a `while`."""
    return s.then + s.orelse if isinstance(s, If) else s.body



def rows_kernel(gen, s: Loop, hoisted) -> list[str]:
    """The body of the block-per-row kernel of the map `s`."""
    return [f"    for {s.index} in range({s.start} + cuda.blockIdx.x, {s.stop}, cuda.gridDim.x):",
            *together(gen, s.body, "        ", hoisted)]


def together(gen, stmts, indent: str, hoisted) -> list[str]:
    """Row-level statements, run by every thread of the block."""
    out: list[str] = []
    for k, s in enumerate(stmts):
        match s:
            case Loop(index, stop, body, _, start):
                out += [f"{indent}for {index} in range({start} + {TID}, {stop}, BLOCK):",
                        *gen.device(body, indent + "    ", hoisted),
                        f"{indent}cuda.syncthreads()"]
            case Reduce():
                out += block_reduce(gen, s, indent, hoisted)
            case If(cond, then, orelse):
                out += [f"{indent}if {gen.device_cond(cond)}:",
                        *together(gen, then, indent + "    ", hoisted), f"{indent}else:",
                        *together(gen, orelse, indent + "    ", hoisted)]
            case While(body):
                out += [f"{indent}while True:", *together(gen, body, indent + "    ", hoisted)]
            case Assign(_, expr) if expr.startswith("cuda.atomic."):  # a histogram's value
                # lands once per row, not once per thread of its block
                out += [f"{indent}if {TID} == 0:", *gen.device([s], indent + "    ", hoisted)]
            case Store():  # once, and seen by every thread before it goes on
                out += [f"{indent}if {TID} == 0:", *gen.device([s], indent + "    ", hoisted)]
                if k + 1 == len(stmts) or not isinstance(stmts[k + 1], Store):
                    out.append(f"{indent}cuda.syncthreads()")
            case _:  # every thread alike; a failure returns from all of them together
                out += gen.device([s], indent, hoisted, exits=True)
    return out or [indent + "pass"]


def block_reduce(gen, r: Reduce, indent: str, hoisted) -> list[str]:
    """acc = init, then every element folded in, the threads' shares in order: strided when
    the operator commutes, else a contiguous run per thread."""
    tag, inner = f"{r.acc[0]}_b", indent + "    "
    loc, has = [f"{a}_t" for a in r.acc], f"{r.acc[0]}_b_has"
    if r.commutative:
        walk_lines = [f"{indent}for {r.index} in range({TID}, {r.stop}, BLOCK):"]
    else:
        walk_lines = [f"{indent}{tag}_lo = {TID} * ({r.stop}) // BLOCK",
                      f"{indent}{tag}_hi = ({TID} + 1) * ({r.stop}) // BLOCK",
                      f"{indent}for {r.index} in range({tag}_lo, {tag}_hi):"]
    rows = {h.name: h for h in hoisted}
    return [f"{indent}{has} = False", *(f"{indent}{a} = {zero(d)}" for a, d in zip(loc, r.dtypes)),
            *walk_lines, *gen.device(r.body, inner, hoisted),
            *flag_fold(gen, r.combine, loc, has, r.elem, inner, rows),
            *block_tree(gen, r.combine, loc, has, r.dtypes, tag, indent),
            *(f"{indent}{a} = {v}" for a, v in zip(r.acc, r.init)),
            f"{indent}if {tag}_shh[0] != 0:",
            *gen.fold(r.combine, r.acc, [f"{tag}_sh{k}[0]" for k in range(len(r.acc))],
                      inner, rows, True),
            f"{indent}cuda.syncthreads()"]  # every thread has read the tree before its reuse
