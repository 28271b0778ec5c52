"""CUDA schemes for reductions, scans, filters and sorts (kernels plus driver lines).

Every operator is only known to be associative, so elements are always combined in order:
each thread folds a contiguous run of elements (commutative reductions use a grid-stride
loop instead, for coalesced loads), a block combines its threads' values in a shared-memory
tree that pairs neighbours, and the blocks' values are combined in block order. Values carry a
`has` flag instead of an identity element, which user operators do not have.

* reduce: one kernel; per-block values, then the last block to finish (an atomic ticket
  after a memory fence) combines them in block order; the driver folds the result into the
  initial value.
* scan: one kernel, tiles chained by decoupled look-back (scan.py).
* filter (reduce-then-scan): counts of kept elements per block; one thread prefixes them; each
  block re-reads its elements, scans its threads' counts in shared memory and writes. Blocks
  walk their part in rounds of short runs per thread (see `rounds`), carrying the count of
  the rounds before.
* sort of indices by a user comparison: merge passes, each element placed by a binary search
  in the other run (stable), one launch per pass.
* reduce_by_index (a Histogram): a grid-stride loop over the values, each landing in the
  destination by one atomic instruction (`cuda.atomic.add`, `.max`, `.min`; 32- and 64-bit
  numbers). Other operators, and smaller integers, run at cpu.
Reverse scans walk positions p = 0.. of the index stop - 1 - p.
"""

from __future__ import annotations

import re

from ...compiler.kernel_ir import (Accumulate, Assign, Combine, Filter, Histogram, If, Loop,
                                  Reduce, Scan, SortIndices)
from ..histogram import landing


class NotForGpu(Exception):
    """A program the CUDA back end cannot run (the message says why)."""


def row_of(rows: dict, name: str) -> str:
    """Inside a kernel: the scratch row standing for the array `name`."""
    if name not in rows:
        raise NotForGpu(f"an array (`{name}`) built inside a reduction, scan, filter or sort")
    return rows[name].row


# A failing element in a kernel with barriers leaves its thread's walk over elements (the
# thread still meets every barrier) rather than reading on at index 0, out of bounds of an
# empty array; the driver raises the flagged error.
LEAVE_WALK = "break"


def walk(stmts):
    """Every statement in `stmts`, nested ones included."""
    for s in stmts:
        yield s
        for field in ("then", "orelse", "body"):
            yield from walk(getattr(s, field, ()))


def host_expr(expr: str) -> str:
    """A kernel-IR expression run by the driver: device arrays copy through the runtime."""
    expr = re.sub(r"\bcupar_reshaped\(", "rt.reshaped(", expr)
    return re.sub(r"(\w+)\.copy\(\)", r"rt.copy(\1)", expr)

TID = "cuda.threadIdx.x"


def emit(gen, s, indent: str) -> list[str]:
    match s:
        case Reduce():
            return reduce_scheme(gen, s, indent)
        case Filter():
            return filter_scheme(gen, s, indent)
        case SortIndices():
            return sort_scheme(gen, s, indent)
    raise TypeError(s)


# -- reduce_by_index ---------------------------------------------------------------------------
ATOMIC_DTYPES = {"add": ("int32", "int64", "uint32", "uint64", "float32", "float64")}
ATOMIC_DTYPES["max"] = ATOMIC_DTYPES["min"] = ATOMIC_DTYPES["add"]


def atomic_loop(h: Histogram) -> Loop:
    """The histogram as a parallel loop whose values land by atomic instructions."""
    if h.dtype not in ATOMIC_DTYPES.get(h.op, ()):
        what = f"`{h.op}` of {h.dtype}" if h.op else "an operator other than op_add, " \
            "maximum and minimum"
        raise NotForGpu(f"reduce_by_index with {what}: the GPU has no atomic instruction "
                        "for it")
    nan_wins = h.op in ("max", "min") and h.dtype.startswith("float")

    def land(a: Accumulate) -> list:
        value = f"{h.dest}_value"
        update = Assign(f"{h.dest}_old", f"cuda.atomic.{h.op}({h.dest}, ({a.index}), {value})")
        if not nan_wins:
            return [Assign(value, a.value), update]
        # numba-cuda's float max and min ignore a NaN value; NumPy's maximum and minimum
        # keep it, so a NaN is stored plainly. They are compare-and-swap loops that never
        # replace a stored NaN (checked in the PTX of numba-cuda 0.30.4), so an atomic
        # racing with that store lands before it (and is overwritten, rightly) or keeps it.
        store = Assign(f"{h.dest}_old", f"rt.store_nan({h.dest}, ({a.index}), {value})")
        return [Assign(value, a.value), If(f"{value} != {value}", (store,), (update,))]
    return Loop(h.index, h.stop, landing(h.body, land), parallel=True)


def zero(dtype: str) -> str:
    return f"np.{dtype}(0)"


def flag_fold(gen, c, acc, has, value, indent: str, rows=None) -> list[str]:
    """acc (flagged by `has`) = combine(acc, value), or value when acc is empty."""
    return [f"{indent}if {has}:", *gen.fold(c, acc, value, indent + "    ", rows or {}, False),
            f"{indent}else:", *(f"{indent}    {a} = {v}" for a, v in zip(acc, value)),
            f"{indent}    {has} = True"]


def block_tree(gen, c, loc, has, dtypes, tag: str, indent: str) -> list[str]:
    """Combine every thread's (loc, has) in order; thread 0 ends with the block's value in
    the shared arrays `{tag}_sh<k>`, `{tag}_shh`."""
    sh = [f"{tag}_sh{k}" for k in range(len(loc))]
    x, y = [f"{tag}_x{k}" for k in range(len(loc))], [f"{tag}_y{k}" for k in range(len(loc))]
    i2, i3 = indent + "    ", indent + "        "
    return [*(f"{indent}{a} = cuda.shared.array(BLOCK, np.{d})" for a, d in zip(sh, dtypes)),
            f"{indent}{tag}_shh = cuda.shared.array(BLOCK, np.int32)",
            *(f"{indent}{a}[{TID}] = {v}" for a, v in zip(sh, loc)),
            f"{indent}{tag}_shh[{TID}] = 1 if {has} else 0",
            f"{indent}cuda.syncthreads()",
            f"{indent}{tag}_d = 1",
            f"{indent}while {tag}_d < BLOCK:",
            f"{i2}if {TID} % (2 * {tag}_d) == 0 and {TID} + {tag}_d < BLOCK and "
            f"{tag}_shh[{TID} + {tag}_d] != 0:",
            *(f"{i3}{b} = {a}[{TID} + {tag}_d]" for a, b in zip(sh, y)),
            f"{i3}if {tag}_shh[{TID}] != 0:",
            *(f"{i3}    {b} = {a}[{TID}]" for a, b in zip(sh, x)),
            *gen.fold(c, x, y, i3 + "    ", {}, False),
            *(f"{i3}    {a}[{TID}] = {b}" for a, b in zip(sh, x)),
            f"{i3}else:",
            *(f"{i3}    {a}[{TID}] = {b}" for a, b in zip(sh, y)),
            f"{i3}    {tag}_shh[{TID}] = 1",
            f"{i2}cuda.syncthreads()",
            f"{i2}{tag}_d *= 2"]


def block_scan(gen, c, loc, has, dtypes, tag: str, indent: str) -> list[str]:
    """Inclusive scan of the threads' (loc, has) in shared memory (Hillis-Steele, in order);
    afterwards `{tag}_sh<k>[t]`, `{tag}_shh[t]` hold the combination of threads 0..t."""
    sh = [f"{tag}_sh{k}" for k in range(len(loc))]
    x, y = [f"{tag}_x{k}" for k in range(len(loc))], [f"{tag}_y{k}" for k in range(len(loc))]
    i2, i3 = indent + "    ", indent + "        "
    return [*(f"{indent}{a} = cuda.shared.array(BLOCK, np.{d})" for a, d in zip(sh, dtypes)),
            f"{indent}{tag}_shh = cuda.shared.array(BLOCK, np.int32)",
            *(f"{indent}{a}[{TID}] = {v}" for a, v in zip(sh, loc)),
            f"{indent}{tag}_shh[{TID}] = 1 if {has} else 0",
            f"{indent}cuda.syncthreads()",
            f"{indent}{tag}_d = 1",
            f"{indent}while {tag}_d < BLOCK:",
            *(f"{i2}{b} = {a}[{TID}]" for a, b in zip(sh, y)),
            f"{i2}{tag}_h = {tag}_shh[{TID}]",
            f"{i2}if {TID} >= {tag}_d and {tag}_shh[{TID} - {tag}_d] != 0:",
            *(f"{i3}{b} = {a}[{TID} - {tag}_d]" for a, b in zip(sh, x)),
            f"{i3}if {tag}_h != 0:",
            *gen.fold(c, x, y, i3 + "    ", {}, False),
            *(f"{i3}{b} = {a}" for a, b in zip(x, y)),
            f"{i3}{tag}_h = 1",
            f"{i2}cuda.syncthreads()",
            *(f"{i2}{a}[{TID}] = {b}" for a, b in zip(sh, y)),
            f"{i2}{tag}_shh[{TID}] = {tag}_h",
            f"{i2}cuda.syncthreads()",
            f"{i2}{tag}_d *= 2"]


def rounds(stop: str, tag: str, body: list[str], before=(), after=()) -> list[str]:
    """Blocks split [0, stop) evenly; a block walks its part in rounds of BLOCK * RUN
    positions, thread t taking the run [tag_lo, tag_hi) of RUN positions at t * RUN, so a
    warp's loads stay close together. `body` (indented for the kernel's top level) runs
    every round, by every thread; `before` and `after` run once."""
    return [f"    {tag}_blo = cuda.blockIdx.x * {stop} // cuda.gridDim.x",
            f"    {tag}_bhi = (cuda.blockIdx.x + 1) * {stop} // cuda.gridDim.x",
            *before,
            f"    for {tag}_base in range({tag}_blo, {tag}_bhi, BLOCK * RUN):",
            f"        {tag}_lo = min({tag}_base + {TID} * RUN, {tag}_bhi)",
            f"        {tag}_hi = min({tag}_lo + RUN, {tag}_bhi)",
            *("    " + line for line in body),
            "        cuda.syncthreads()",  # before the next round reuses shared memory
            *after]


# -- reduce ------------------------------------------------------------------------------------
def reduce_scheme(gen, r: Reduce, indent: str) -> list[str]:
    """One kernel: each block folds its elements and stores its value; the last block to
    finish (counted by an atomic ticket after a memory fence) folds the blocks' values, in
    block order, into one-element arrays. The driver folds that into the initial value."""
    tag, i2 = f"{r.acc[0]}_r", indent + "    "
    loc = [f"{a}_t" for a in r.acc]
    parts = [f"{tag}_part{k}" for k in range(len(r.acc))]
    res = [f"{tag}_res{k}" for k in range(len(r.acc))]
    if r.commutative:
        walk = [f"    for {r.index} in range(cuda.grid(1), {r.stop}, cuda.gridsize(1)):"]
    else:
        walk = [f"    {tag}_all = cuda.gridsize(1)",
                f"    {tag}_lo = cuda.grid(1) * {r.stop} // {tag}_all",
                f"    {tag}_hi = (cuda.grid(1) + 1) * {r.stop} // {tag}_all",
                f"    for {r.index} in range({tag}_lo, {tag}_hi):"]
    body = [f"    {tag}_has = False", *(f"    {a} = {zero(d)}" for a, d in zip(loc, r.dtypes)),
            *walk, *gen.device(r.body, "        ", exits=LEAVE_WALK),
            *flag_fold(gen, r.combine, loc, f"{tag}_has", r.elem, "        "),
            *block_tree(gen, r.combine, loc, f"{tag}_has", r.dtypes, tag, "    "),
            f"    {tag}_last = cuda.shared.array(1, np.int32)",
            f"    if {TID} == 0:",
            *(f"        {p}[cuda.blockIdx.x] = {tag}_sh{k}[0]" for k, p in enumerate(parts)),
            f"        {tag}_phas[cuda.blockIdx.x] = {tag}_shh[0]",
            "        cuda.threadfence()  # the block's value is seen before its ticket",
            f"        {tag}_ticket = cuda.atomic.add({tag}_count, 0, 1)",
            f"        {tag}_last[0] = 1 if {tag}_ticket == cuda.gridDim.x - 1 else 0",
            "    cuda.syncthreads()",
            f"    if {tag}_last[0] != 0:",
            *combine_parts(gen, r, tag, parts, res, "cuda.gridDim.x", "        ")]
    name = gen.new_kernel("reduce")
    extra = (*parts, f"{tag}_phas", f"{tag}_count", *res, f"{tag}_rhas")
    lines = [*(f"{indent}{a} = {v}" for a, v in zip(r.acc, r.init)),
             f"{indent}if {r.stop} > 0:",
             f"{i2}{tag}_n = rt.blocks({r.stop})",
             *(f"{i2}{p} = rt.empty(({tag}_n,), np.{d})" for p, d in zip(parts, r.dtypes)),
             f"{i2}{tag}_phas = rt.empty(({tag}_n,), np.int32)",
             f"{i2}{tag}_count = rt.ticket()",
             *(f"{i2}{x} = rt.empty((1,), np.{d})" for x, d in zip(res, r.dtypes)),
             f"{i2}{tag}_rhas = rt.empty((1,), np.int32)",
             *gen.launch(name, body, [r], [], r.stop, i2, grid=f"{tag}_n", extra=extra)]
    lines += gen.raise_flagged(list(r.body) + list(r.combine.body), i2)
    lines += [f"{i2}if {gen.settled(f'rt.scalar({tag}_rhas)')}:",
              *host_fold(gen, r.combine, r.acc, [f"rt.scalar({x})" for x in res], i2 + "    ")]
    return lines


def combine_parts(gen, r, tag, parts, res, n: str, indent: str) -> list[str]:
    """The last block's lines: its threads fold the n blocks' values (a run each, in order),
    a tree combines the threads', thread 0 stores the result in `res`, `{tag}_rhas` and
    sets the ticket counter back to zero for the next launch."""
    loc, i2, i3 = [f"{a}_c" for a in r.acc], indent + "    ", indent + "        "
    return [f"{indent}{tag}_chas = False",
            *(f"{indent}{a} = {zero(d)}" for a, d in zip(loc, r.dtypes)),
            f"{indent}for {tag}_j in range({TID} * {n} // BLOCK, ({TID} + 1) * {n} // BLOCK):",
            f"{i2}if {tag}_phas[{tag}_j] != 0:",
            *flag_fold(gen, r.combine, loc, f"{tag}_chas",
                       [f"{p}[{tag}_j]" for p in parts], i3),
            *block_tree(gen, r.combine, loc, f"{tag}_chas", r.dtypes, f"{tag}c", indent),
            f"{indent}if {TID} == 0:",
            *(f"{i2}{x}[0] = {tag}c_sh{k}[0]" for k, x in enumerate(res)),
            f"{i2}{tag}_rhas[0] = {tag}c_shh[0]",
            f"{i2}{tag}_count[0] = 0"]


def host_fold(gen, c: Combine, acc, value, indent: str) -> list[str]:
    """acc = combine(acc, value) run by the driver (the combine is scalar code)."""
    lines = [f"{indent}{a} = {b}" for a, b in zip(c.left + c.right, tuple(acc) + tuple(value))]
    lines += gen.host(c.body, indent)
    return lines + [f"{indent}{a} = {host_expr(b)}" for a, b in zip(acc, c.out)]


def position_index(s, p: str) -> str:
    """The index a scan visits at position p."""
    return f"{s.stop} - 1 - {p}" if s.reverse else p


# -- filter ----------------------------------------------------------------------------------
COUNT = Combine(("cnt_l",), ("cnt_r",), (Assign("cnt_o", "cnt_l + cnt_r"),), ("cnt_o",))


def filter_scheme(gen, f: Filter, indent: str) -> list[str]:
    tag, i2 = f"{f.out[0]}_f", indent + "    "
    walk = [f"    {tag}_c = np.int64(0)",
            f"    for {f.index} in range({tag}_lo, {tag}_hi):",
            *gen.device(f.body, "        ", exits=LEAVE_WALK),
            f"        if {f.keep}:", f"            {tag}_c += 1"]
    counts = rounds(f.stop, tag, [*walk, *block_tree(gen, COUNT, [f"{tag}_c"], "True",
                                                     ("int64",), tag, "    "),
                                  f"    {tag}_carry += {tag}_sh0[0]"],
                    before=[f"    {tag}_carry = np.int64(0)"],
                    after=[f"    if {TID} == 0:",
                           f"        {tag}_counts[cuda.blockIdx.x] = {tag}_carry"])
    prefix = ["    if cuda.grid(1) == 0:", f"        {tag}_a = np.int64(0)",
              f"        for {tag}_b in range({tag}_n):",
              f"            {tag}_offs[{tag}_b] = {tag}_a",
              f"            {tag}_a += {tag}_counts[{tag}_b]",
              f"        {tag}_total[0] = {tag}_a"]
    write = [*walk, *block_scan(gen, COUNT, [f"{tag}_c"], "True", ("int64",), tag, "    "),
             f"    {tag}_at = {tag}_carry + {tag}_sh0[{TID}] - {tag}_c",
             f"    for {f.index} in range({tag}_lo, {tag}_hi):",
             *gen.device(f.body, "        ", exits=LEAVE_WALK),
             f"        if {f.keep}:",
             *(f"            {o}[{tag}_at] = {e}" for o, e in zip(f.out, f.elem)),
             f"            {tag}_at += 1",
             f"    {tag}_carry += {tag}_sh0[BLOCK - 1]"]
    writes = rounds(f.stop, tag, write,
                    before=[f"    {tag}_carry = {tag}_offs[cuda.blockIdx.x]"])
    lines = [*(f"{indent}{o} = rt.empty((0,), np.{d})" for o, d in zip(f.out, f.dtypes)),
             f"{indent}if {f.stop} > 0:",
             f"{i2}{tag}_n = rt.blocks({f.stop})",
             f"{i2}{tag}_counts = rt.empty(({tag}_n,), np.int64)",
             f"{i2}{tag}_offs = rt.empty(({tag}_n,), np.int64)",
             f"{i2}{tag}_total = rt.empty((1,), np.int64)",
             *gen.launch(gen.new_kernel("count"), counts, [f], [], f.stop, i2, grid=f"{tag}_n",
                         extra=(f"{tag}_counts",)),
             *gen.launch(gen.new_kernel("offsets"), prefix, [f], [], "1", i2, grid="1",
                         extra=(f"{tag}_counts", f"{tag}_offs", f"{tag}_total", f"{tag}_n")),
             *gen.raise_flagged(f.body, i2),
             *(f"{i2}{o} = rt.empty(({gen.settled(f'rt.scalar({tag}_total)')},), np.{d})"
               for o, d in zip(f.out, f.dtypes)),
             *gen.launch(gen.new_kernel("keep"), writes, [f], [], f.stop, i2, grid=f"{tag}_n",
                         extra=(*f.out, f"{tag}_offs"))]
    return lines


# -- sort of indices by a user comparison ------------------------------------------------------
def sort_scheme(gen, s: SortIndices, indent: str) -> list[str]:
    p, t, w = s.perm, f"{s.perm}_tmp", f"{s.perm}_width"
    x, a, b, m, lo, mid, hi = (f"{p}_{k}" for k in ("x", "a", "b", "m", "lo", "mid", "hi"))

    def less(left: str, right: str, indent: str) -> list[str]:
        return [f"{indent}{s.left} = {left}", f"{indent}{s.right} = {right}",
                *gen.device(s.body, indent)]
    i3, i4 = "            ", "                "
    body = [f"    for {x} in range(cuda.grid(1), {s.stop}, cuda.gridsize(1)):",
            f"        {lo} = {x} // (2 * {w}) * (2 * {w})",
            f"        {mid} = min({lo} + {w}, {s.stop})",
            f"        {hi} = min({lo} + 2 * {w}, {s.stop})",
            f"        if {x} < {mid}:",  # after the right run's elements strictly before it
            f"{i3}{a} = {mid}", f"{i3}{b} = {hi}", f"{i3}while {a} < {b}:",
            f"{i4}{m} = ({a} + {b}) // 2", *less(f"{p}[{m}]", f"{p}[{x}]", i4),
            f"{i4}if {s.less}:", f"{i4}    {a} = {m} + 1", f"{i4}else:", f"{i4}    {b} = {m}",
            f"{i3}{t}[{x} + {a} - {mid}] = {p}[{x}]",
            "        else:",  # after the left run's elements not after it (stable)
            f"{i3}{a} = {lo}", f"{i3}{b} = {mid}", f"{i3}while {a} < {b}:",
            f"{i4}{m} = ({a} + {b}) // 2", *less(f"{p}[{x}]", f"{p}[{m}]", i4),
            f"{i4}if {s.less}:", f"{i4}    {b} = {m}", f"{i4}else:", f"{i4}    {a} = {m} + 1",
            f"{i3}{t}[{x} - {mid} + {a}] = {p}[{x}]"]
    i2 = indent + "    "
    return [f"{indent}{p} = rt.arange({s.stop})", f"{indent}{t} = rt.empty(({s.stop},), np.int64)",
            f"{indent}{w} = 1", f"{indent}while {w} < {s.stop}:",
            *gen.launch(gen.new_kernel("merge"), body, [s], [], s.stop, i2,
                        extra=(p, t, w)),
            f"{i2}{p}, {t} = {t}, {p}", f"{i2}{w} *= 2",
            *gen.raise_flagged(s.body, indent)]


# -- the same, sequential inside a kernel --------------------------------------------------------
def serial_reduce(gen, r: Reduce, indent: str, rows: dict, exits: bool) -> list[str]:
    return [*(f"{indent}{a} = {v}" for a, v in zip(r.acc, r.init)),
            f"{indent}for {r.index} in range({r.stop}):",
            *gen.device(r.body, indent + "    ", rows.values(), exits),
            *gen.fold(r.combine, r.acc, r.elem, indent + "    ", rows, exits)]


def serial_scan(gen, s: Scan, indent: str, rows: dict, exits: bool) -> list[str]:
    acc, has, p = [f"{o}_a" for o in s.out], f"{s.out[0]}_ahas", f"{s.out[0]}_p"
    i2 = indent + "    "
    start = ([f"{indent}{has} = True", *(f"{indent}{a} = {v}" for a, v in zip(acc, s.init))]
             if s.init is not None else
             [f"{indent}{has} = False", *(f"{indent}{a} = {zero(d)}"
                                          for a, d in zip(acc, s.dtypes))])
    lines = [*start, f"{indent}for {p} in range({s.stop}):",
             f"{i2}{s.index} = {position_index(s, p)}",
             *gen.device(s.body, i2, rows.values(), exits)]
    if s.init is not None:
        lines += [f"{i2}{o}[{s.index}] = {a}" for o, a in zip(s.out, acc)]
    lines += [f"{i2}if {has}:", *gen.fold(s.combine, acc, s.elem, i2 + "    ", rows, exits),
              f"{i2}else:", *(f"{i2}    {a} = {e}" for a, e in zip(acc, s.elem)),
              f"{i2}    {has} = True"]
    if s.init is None:
        lines += [f"{i2}{o}[{s.index}] = {a}" for o, a in zip(s.out, acc)]
    return lines


def serial_filter(gen, f: Filter, indent: str, rows: dict, exits: bool) -> list[str]:
    count, i2 = f"{f.out[0]}_count", indent + "    "
    return [*(f"{indent}{o} = {row_of(rows, o)}" for o in f.out), f"{indent}{count} = 0",
            f"{indent}for {f.index} in range({f.stop}):",
            *gen.device(f.body, i2, rows.values(), exits),
            f"{i2}if {f.keep}:", *(f"{i2}    {o}[{count}] = {e}" for o, e in zip(f.out, f.elem)),
            f"{i2}    {count} += 1",
            *(f"{indent}{o} = {o}[:{count}]" for o in f.out)]


def serial_sort(gen, s: SortIndices, indent: str, rows: dict, exits: bool) -> list[str]:
    """Bottom-up merge sort of an index row, in one thread."""
    p, t, w = s.perm, f"{s.perm}_tmp", f"{s.perm}_width"
    lo, mid, hi, a, b, k = (f"{p}_{x}" for x in ("lo", "mid", "hi", "i", "j", "k"))
    i1, i2, i3, i4 = (indent + "    " * n for n in range(1, 5))
    take = [f"{i3}{s.left} = {p}[{b}]", f"{i3}{s.right} = {p}[{a}]",
            *gen.device(s.body, i3, rows.values(), exits),
            f"{i3}if {s.less}:", f"{i4}{t}[{k}] = {p}[{b}]", f"{i4}{b} += 1",
            f"{i3}else:", f"{i4}{t}[{k}] = {p}[{a}]", f"{i4}{a} += 1", f"{i3}{k} += 1"]
    return [f"{indent}{p} = {row_of(rows, p)}", f"{indent}{t} = {row_of(rows, t)}",
            f"{indent}for {k} in range({s.stop}):", f"{i1}{p}[{k}] = {k}",
            f"{indent}{w} = 1", f"{indent}while {w} < {s.stop}:",
            f"{i1}for {lo} in range(0, {s.stop}, 2 * {w}):",
            f"{i2}{mid} = min({lo} + {w}, {s.stop})", f"{i2}{hi} = min({lo} + 2 * {w}, {s.stop})",
            f"{i2}{a} = {lo}", f"{i2}{b} = {mid}", f"{i2}{k} = {lo}",
            f"{i2}while {a} < {mid} and {b} < {hi}:", *take,
            f"{i2}while {a} < {mid}:", f"{i3}{t}[{k}] = {p}[{a}]", f"{i3}{a} += 1",
            f"{i3}{k} += 1",
            f"{i2}while {b} < {hi}:", f"{i3}{t}[{k}] = {p}[{b}]", f"{i3}{b} += 1",
            f"{i3}{k} += 1",
            f"{i1}{p}, {t} = {t}, {p}", f"{i1}{w} *= 2"]
