"""The scan at gpu0: one kernel, whose tiles chain their prefixes by decoupled look-back.

A tile is BLOCK * RUN consecutive positions, RUN of them per thread. A block takes the next
tile number from an atomic counter (rt.ticket), not its block index, so the blocks that hold a
tile's predecessors started before it: they are running or done, and none of them waits on a
later tile. Waiting for them therefore ends, on a GPU, where blocks run side by side in any
order, and under Numba's simulator, which runs them one after another (there each block finds
the tile before it finished already).

The block scans its threads' values in shared memory, in order; then thread 0

* publishes the tile's aggregate with the flag AGGREGATE (the first tile skips this),
* looks back over the tiles before it, nearest first, combining what each published in front
  of its prefix, until it meets a tile that published its inclusive prefix (the first tile
  always does, so the walk ends),
* publishes its own inclusive prefix with the flag INCLUSIVE,

and every thread walks its run again, writing. Values are stored, then a memory fence, then
their flag; a reader reads the flag atomically, then a fence, then the value from L2
(`rt.load_cg`: its SM's L1 may hold a stale line). Flags live in a buffer kept from launch to
launch and are numbers of the launch's epoch (rt.scan_flags), so no launch has to zero them.

Elements are combined in position order (an exclusive scan's initial value goes first); the
look-back associates the tiles' values differently from the interpreter, which only floats
can tell. A tile is never empty, so its values need no `has` flag; a thread's may be empty (a
thread past the end). Reverse scans walk positions p = 0.. of the index stop - 1 - p.
"""

from __future__ import annotations

from ...compiler.kernel_ir import Scan
from .schemes import LEAVE_WALK, TID, block_scan, flag_fold, position_index, zero

AGGREGATE, INCLUSIVE = 1, 2  # a flag is 2 * epoch + one of these


def stored(value: str, dtype: str) -> str:
    """A tile value as its array holds it: L2 loads take numbers, so a bool is a uint8."""
    return f"np.uint8({value})" if dtype == "bool" else value


def loaded(array: str, index: str, dtype: str) -> str:
    value = f"rt.load_cg({array}, {index})"
    return f"({value} != 0)" if dtype == "bool" else value


def scan_scheme(gen, s: Scan, indent: str) -> list[str]:
    tag, i2 = f"{s.out[0]}_s", indent + "    "
    agg = [f"{tag}_agg{k}" for k in range(len(s.out))]
    inc = [f"{tag}_inc{k}" for k in range(len(s.out))]
    loc = [f"{o}_t" for o in s.out]
    body = [*take_tile(s, tag), *fold_run(gen, s, tag, loc),
            *block_scan(gen, s.combine, loc, f"{tag}_has", s.dtypes, tag, "    "),
            *look_back(gen, s, tag, agg, inc), *write_run(gen, s, tag, loc)]
    arrays = [f"{i2}{a} = rt.empty(({tag}_n,), np.{'uint8' if d == 'bool' else d})"
              for a, d in zip(agg + inc, s.dtypes + s.dtypes)]
    extra = (*s.out, *agg, *inc, f"{tag}_flags", f"{tag}_epoch", f"{tag}_count")
    return [f"{indent}if {s.stop} > 0:", f"{i2}{tag}_n = rt.tiles({s.stop})", *arrays,
            f"{i2}{tag}_flags, {tag}_epoch = rt.scan_flags({tag}_n)",
            f"{i2}{tag}_count = rt.ticket()",
            *gen.launch(gen.new_kernel("scan"), body, [s], [], s.stop, i2, grid=f"{tag}_n",
                        extra=extra),
            *gen.raise_flagged(list(s.body) + list(s.combine.body), i2)]


def take_tile(s: Scan, tag: str) -> list[str]:
    """The block's tile number, from the counter; the block that takes the last one sets the
    counter back to zero for the next launch (every other block took its number already)."""
    return [f"    {tag}_tsh = cuda.shared.array(1, np.int32)",
            f"    if {TID} == 0:",
            f"        {tag}_got = cuda.atomic.add({tag}_count, 0, 1)",
            f"        if {tag}_got == ({s.stop} - 1) // (BLOCK * RUN):",
            f"            {tag}_count[0] = 0",
            f"        {tag}_tsh[0] = {tag}_got",
            "    cuda.syncthreads()",
            f"    {tag}_tile = np.int64({tag}_tsh[0])",
            f"    {tag}_lo = min({tag}_tile * (BLOCK * RUN) + {TID} * RUN, {s.stop})",
            f"    {tag}_hi = min({tag}_lo + RUN, {s.stop})"]


def fold_run(gen, s: Scan, tag: str, loc) -> list[str]:
    """Each thread's run folded into (loc, has)."""
    return [f"    {tag}_has = False", *(f"    {a} = {zero(d)}" for a, d in zip(loc, s.dtypes)),
            f"    for {tag}_p in range({tag}_lo, {tag}_hi):",
            f"        {s.index} = {position_index(s, f'{tag}_p')}",
            *gen.device(s.body, "        ", exits=LEAVE_WALK),
            *flag_fold(gen, s.combine, loc, f"{tag}_has", s.elem, "        ")]


def look_back(gen, s: Scan, tag: str, agg, inc) -> list[str]:
    """Thread 0 publishes the tile's values and finds its prefix (`{tag}_b<k>`, flagged by
    `{tag}_bhas`), which it leaves in shared memory for the block."""
    n = len(s.out)
    b, c = [f"{tag}_b{k}" for k in range(n)], [f"{tag}_c{k}" for k in range(n)]
    total = [f"{tag}_sh{k}[BLOCK - 1]" for k in range(n)]  # (the block scan's last thread)
    start = (["        else:  # the first tile's prefix: the initial value",
              f"            {tag}_bhas = True",
              *(f"            {x} = {v}" for x, v in zip(b, s.init))] if s.init is not None else [])
    flag = f"2 * {tag}_epoch"
    return [*(f"    {tag}_psh{k} = cuda.shared.array(1, np.{d})" for k, d in enumerate(s.dtypes)),
            f"    {tag}_pshh = cuda.shared.array(1, np.int32)",
            f"    if {TID} == 0:", f"        {tag}_bhas = False",
            *(f"        {x} = {zero(d)}" for x, d in zip(b, s.dtypes)),
            f"        if {tag}_tile > 0:",
            *publish(agg, total, s.dtypes, tag, f"{flag} + {AGGREGATE}", "            "),
            *walk_back(gen, s, tag, agg, inc, b, flag), *start,
            f"        {tag}_chas = {tag}_bhas", *(f"        {x} = {y}" for x, y in zip(c, b)),
            *flag_fold(gen, s.combine, c, f"{tag}_chas", total, "        "),
            *publish(inc, c, s.dtypes, tag, f"{flag} + {INCLUSIVE}", "        "),
            *(f"        {tag}_psh{k}[0] = {x}" for k, x in enumerate(b)),
            f"        {tag}_pshh[0] = 1 if {tag}_bhas else 0",
            "    cuda.syncthreads()"]


def publish(arrays, values, dtypes, tag: str, flag: str, indent: str) -> list[str]:
    return [*(f"{indent}{a}[{tag}_tile] = {stored(v, d)}"
              for a, v, d in zip(arrays, values, dtypes)),
            f"{indent}cuda.threadfence()  # the value is seen before its flag",
            f"{indent}cuda.atomic.exch({tag}_flags, {tag}_tile, np.int32({flag}))"]


def walk_back(gen, s: Scan, tag: str, agg, inc, b, flag: str) -> list[str]:
    """Tiles tile - 1, tile - 2, ...: wait for a flag of this launch, put the tile's value in
    front of the prefix, stop at an inclusive prefix."""
    v = [f"{tag}_v{k}" for k in range(len(s.out))]
    j, f, i4, i5 = f"{tag}_j", f"{tag}_f", " " * 16, " " * 20
    return [f"            {j} = {tag}_tile - 1",
            "            while True:",
            f"{i4}{f} = cuda.atomic.add({tag}_flags, {j}, 0)  # (read, never a stale copy)",
            f"{i4}if {f} > {flag}:",
            f"{i5}cuda.threadfence()  # the value is read after its flag",
            f"{i5}if {f} == {flag} + {INCLUSIVE}:",
            *(f"{i5}    {x} = {loaded(a, j, d)}" for x, a, d in zip(v, inc, s.dtypes)),
            f"{i5}else:",
            *(f"{i5}    {x} = {loaded(a, j, d)}" for x, a, d in zip(v, agg, s.dtypes)),
            f"{i5}if {tag}_bhas:",
            *gen.fold(s.combine, v, b, i5 + "    ", {}, False),
            *(f"{i5}{x} = {y}" for x, y in zip(b, v)),
            f"{i5}{tag}_bhas = True",
            f"{i5}if {f} == {flag} + {INCLUSIVE}:",
            f"{i5}    break",
            f"{i5}{j} -= 1"]


def write_run(gen, s: Scan, tag: str, loc) -> list[str]:
    """A thread's prefix is the tile's and the threads' before it; it walks its run again,
    writing each position's value (an exclusive scan's before the element is combined)."""
    mine = [f"{o}_m" for o in s.out]
    sh = [f"{tag}_sh{k}" for k in range(len(s.out))]
    body = [f"    {tag}_mhas = {tag}_pshh[0] != 0",
            *(f"    {m} = {tag}_psh{k}[0]" for k, m in enumerate(mine)),
            f"    if {TID} > 0:",
            f"        if {tag}_shh[{TID} - 1] != 0:",
            *flag_fold(gen, s.combine, mine, f"{tag}_mhas", [f"{x}[{TID} - 1]" for x in sh],
                       "            "),
            f"    for {tag}_p in range({tag}_lo, {tag}_hi):",
            f"        {s.index} = {position_index(s, f'{tag}_p')}",
            *gen.device(s.body, "        ", exits=LEAVE_WALK)]
    if s.init is not None:
        body += [f"        {o}[{s.index}] = {m}" for o, m in zip(s.out, mine)]
    body += flag_fold(gen, s.combine, mine, f"{tag}_mhas", s.elem, "        ")
    if s.init is None:
        body += [f"        {o}[{s.index}] = {m}" for o, m in zip(s.out, mine)]
    return body
