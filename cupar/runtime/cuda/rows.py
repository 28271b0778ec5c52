"""A block or a warp per row: the other kernels of a parallel map whose elements are rows.

A thread per row (the map kernel) suits short rows, but a warp then reads 32 rows far apart,
and a few thousand rows leave most of a GPU idle. When every inner loop and reduction of a
row can be shared out, the map also gets kernels that give each row a team of threads, a
warp (rows of tens to about a thousand elements) or a block (longer ones): the row's scalar
statements run in every thread of the team alike (so their values and branches are the same
in all of them and barriers are safe), an inner loop strides its elements over the team and
ends with the team's barrier (a later loop may read what another thread wrote), and an inner
reduction folds each thread's elements, then the threads' values in a tree that pairs
neighbours (in shared memory for a block, by shuffles for a warp), so elements combine in
order. The driver picks the kernel at the call from the length of the rows (lib.py's
ROWS_BY_WARP and ROWS_BY_BLOCK); rows whose lengths only they know take a warp each.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from ...compiler.kernel_ir import (Alloc, Assign, Break, Continue, Fail, Filter, If, Loop, Reduce,
                                  Scan, SortIndices, Store, While)
from .schemes import TID, block_tree, flag_fold, walk, zero

SCALAR = (Assign, Alloc, Store, Fail, Break, Continue)
ALLOCATING = (Alloc, Scan, Filter, SortIndices)  # (one scratch row per outer element)


def row_length(s: Loop, host_names: set, identifiers) -> str | None:
    """When a team can run the rows of the map `s`: the length of its first inner loop or
    reduction where the driver can compute it, else "" (rows whose lengths only they know,
    such as CSR's). None when only a thread per row can. Rows of unknown lengths are shared
    only when their inner work is reductions: an inner loop there may carry values from one
    element to the next through memory (the chunks of a fold of columns do)."""
    inner = list(inner_loops(s.body))
    if not inner or not shareable(s.body):
        return None
    if identifiers([inner[0].stop]) <= host_names | {"np", "min", "max"}:
        return inner[0].stop
    return "" if all(isinstance(x, Reduce) for x in inner) else None


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


class Team(NamedTuple):
    """The threads running a row together."""

    rank: str  # a thread's number in the team
    size: str
    sync: str  # the team's barrier
    reduce: Callable  # (gen, Reduce, indent, hoisted) -> the lines folding it


LANE = "cupar_lane"
# A thread whose element fails leaves its share of the loop (the error is flagged and the row's
# value never used) and goes on to its team's barriers: it must not return before them, nor
# read on with the stand-in index the failing check leaves (0, outside an empty array).
LEAVE = "break"


def rows_kernel(gen, s: Loop, hoisted) -> list[str]:
    """The body of the block-per-row kernel of the map `s`."""
    return [f"    for {s.index} in range({s.start} + cuda.blockIdx.x, {s.stop}, cuda.gridDim.x):",
            *together(gen, s.body, "        ", hoisted, BY_BLOCK)]


def warps_kernel(gen, s: Loop, hoisted) -> list[str]:
    """The body of the warp-per-row kernel of the map `s` (BLOCK is a multiple of WARP)."""
    return [f"    {LANE} = cuda.threadIdx.x % WARP",
            f"    for {s.index} in range({s.start} + cuda.grid(1) // WARP, {s.stop}, "
            "cuda.gridsize(1) // WARP):",
            *together(gen, s.body, "        ", hoisted, BY_WARP)]


def together(gen, stmts, indent: str, hoisted, team: Team) -> list[str]:
    """Row-level statements, run by every thread of the team."""
    out: list[str] = []
    once = [f"{indent}if {team.rank} == 0:"]
    for k, s in enumerate(stmts):
        match s:
            case Loop(index, stop, body, _, start):
                out += [f"{indent}for {index} in range({start} + {team.rank}, {stop}, "
                        f"{team.size}):",
                        *gen.device(body, indent + "    ", hoisted, LEAVE), f"{indent}{team.sync}"]
            case Reduce():
                out += team.reduce(gen, s, indent, hoisted)
            case If(cond, then, orelse):
                out += [f"{indent}if {gen.device_cond(cond)}:",
                        *together(gen, then, indent + "    ", hoisted, team), f"{indent}else:",
                        *together(gen, orelse, indent + "    ", hoisted, team)]
            case While(body):
                out += [f"{indent}while True:",
                        *together(gen, body, indent + "    ", hoisted, team)]
            case Assign(_, expr) if expr.startswith("cuda.atomic."):  # a histogram's value
                # lands once per row, not once per thread of its team
                out += [*once, *gen.device([s], indent + "    ", hoisted)]
            case Store():  # once, and seen by every thread before it goes on
                out += [*once, *gen.device([s], indent + "    ", hoisted)]
                if k + 1 == len(stmts) or not isinstance(stmts[k + 1], Store):
                    out.append(f"{indent}{team.sync}")
            case _:  # every thread alike; a failure returns from all of them together
                out += gen.device([s], indent, hoisted, exits=True)
    return out or [indent + "pass"]


def shares(r: Reduce, rank: str, size: str, indent: str) -> list[str]:
    """The loop over a thread's elements of `r`: strided when the operator commutes (loads
    side by side), else a contiguous run per thread (the tree then keeps the order)."""
    if r.commutative:
        return [f"{indent}for {r.index} in range({rank}, {r.stop}, {size}):"]
    tag = f"{r.acc[0]}_b"
    return [f"{indent}{tag}_lo = {rank} * ({r.stop}) // {size}",
            f"{indent}{tag}_hi = ({rank} + 1) * ({r.stop}) // {size}",
            f"{indent}for {r.index} in range({tag}_lo, {tag}_hi):"]


def fold_share(gen, r: Reduce, team: Team, loc, has, indent: str, hoisted) -> list[str]:
    """(loc, has): a thread's elements of `r` folded in order."""
    return [f"{indent}{has} = False", *(f"{indent}{a} = {zero(d)}" for a, d in zip(loc, r.dtypes)),
            *shares(r, team.rank, team.size, indent),
            *gen.device(r.body, indent + "    ", hoisted, LEAVE),
            *flag_fold(gen, r.combine, loc, has, r.elem, indent + "    ",
                       {h.name: h for h in hoisted})]


def block_reduce(gen, r: Reduce, indent: str, hoisted) -> list[str]:
    """acc = init, then every element folded in, the threads' shares in order."""
    tag = f"{r.acc[0]}_b"
    loc, has = [f"{a}_t" for a in r.acc], f"{r.acc[0]}_b_has"
    return [*fold_share(gen, r, BY_BLOCK, loc, has, indent, hoisted),
            *block_tree(gen, r.combine, loc, has, r.dtypes, tag, indent),
            *settle(gen, r, [f"{tag}_sh{k}[0]" for k in range(len(r.acc))], f"{tag}_shh[0] != 0",
                    indent, hoisted),
            f"{indent}cuda.syncthreads()"]  # every thread has read the tree before its reuse


def settle(gen, r: Reduce, value, has: str, indent: str, hoisted) -> list[str]:
    """acc = init, combined with the team's value when there is one."""
    return [*(f"{indent}{a} = {v}" for a, v in zip(r.acc, r.init)), f"{indent}if {has}:",
            *gen.fold(r.combine, r.acc, value, indent + "    ", {h.name: h for h in hoisted},
                      True)]


# Shuffles move 32- and 64-bit numbers: other dtypes travel as one of those and come back.
CARRIER = {"int32": "int32", "int64": "int64", "float32": "float32", "float64": "float64",
           "uint32": "int64", "uint64": "int64"}


def shuffled(how: str, value: str, dtype: str, arg: str) -> str:
    """`value` of the lane `how` names (rt.shfl_down: lane + arg; rt.shfl_idx: lane arg)."""
    carrier = CARRIER.get(dtype, "int32")
    if carrier == dtype:
        return f"rt.shfl_{how}({value}, {arg})"
    return f"np.{dtype}(rt.shfl_{how}(np.{carrier}({value}), {arg}))"


def warp_reduce(gen, r: Reduce, indent: str, hoisted) -> list[str]:
    """acc = init, then every element folded in: the lanes' shares in order, by a tree of
    shuffles in which lane l takes in lane l + d's value (l a multiple of 2d), so lane 0
    ends with all of them; every lane then takes lane 0's. Every lane runs every shuffle."""
    tag, i2, i3 = f"{r.acc[0]}_w", indent + "    ", indent + "        "
    loc, has = [f"{a}_t" for a in r.acc], f"{r.acc[0]}_w_has"
    y, x = [f"{tag}_y{k}" for k in range(len(r.acc))], [f"{tag}_x{k}" for k in range(len(r.acc))]
    flag = f"np.int32(1 if {has} else 0)"
    return [*fold_share(gen, r, BY_WARP, loc, has, indent, hoisted),
            f"{indent}{tag}_d = 1",
            f"{indent}while {tag}_d < WARP:",
            *(f"{i2}{b} = {shuffled('down', a, d, f'{tag}_d')}"
              for a, b, d in zip(loc, y, r.dtypes)),
            f"{i2}{tag}_yh = rt.shfl_down({flag}, {tag}_d)",
            f"{i2}if {LANE} % (2 * {tag}_d) == 0 and {tag}_yh != 0:",
            *flag_fold(gen, r.combine, loc, has, y, i3),
            f"{i2}{tag}_d *= 2",
            *(f"{indent}{b} = {shuffled('idx', a, d, '0')}" for a, b, d in zip(loc, x, r.dtypes)),
            f"{indent}{tag}_xh = rt.shfl_idx({flag}, 0)",
            *settle(gen, r, x, f"{tag}_xh != 0", indent, hoisted)]


BY_BLOCK = Team(TID, "BLOCK", "cuda.syncthreads()", block_reduce)
BY_WARP = Team(LANE, "WARP", "rt.syncwarp()", warp_reduce)
