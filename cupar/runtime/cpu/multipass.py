"""Numba source of the statements that take several passes over their elements: scans,
filters and sorts (see codegen.py for the rest, which this module calls back into).

A scan's chunks are cut into SCAN_LANES segments whose dependency chains are folded in step:
segment totals in parallel, their prefixes serially, then every segment scanned in
parallel from its prefix. A filter counts per chunk, prefixes the counts and writes per
chunk. A sort of indices by a user comparison is a bottom-up merge sort, the merges of one
pass in parallel.
"""

from __future__ import annotations

from ...compiler.kernel_ir import Filter, Scan, SortIndices
from . import codegen as base  # mutual: codegen's `statement` calls back here


def chunked(stop: str, tag: str, indent: str) -> tuple[list[str], str, str, str]:
    """Lines choosing the chunk count (chunks of at most 2^30 elements, which int32 counts
    can count), and the names of chunk, lo, hi."""
    n, c, lo, hi = (f"{tag}_{x}" for x in ("n", "c", "lo", "hi"))
    return [f"{indent}{n} = max(min({stop}, CHUNKS), ({stop} >> 30) + 1)"], n, c, lo + "|" + hi


def bounds(c: str, n: str, stop: str, lohi: str, indent: str) -> list[str]:
    lo, hi = lohi.split("|")
    return [f"{indent}{lo} = {c} * {stop} // {n}", f"{indent}{hi} = ({c} + 1) * {stop} // {n}"]


def scan_pass(s: Scan, acc: tuple, lo: str, hi: str, write: bool, started: str,
              indent: str, par: bool) -> list[str]:
    """Fold (and, when `write`, store) elements lo..hi-1 (hi-1..lo when reversed) into acc;
    `started` names a flag that is False while acc holds no value yet."""
    deeper, deepest = indent + "    ", indent + "        "
    k = s.index + "_k"
    order = f"range({hi} - 1, {lo} - 1, -1)" if s.reverse else f"range({lo}, {hi})"
    lines = [f"{indent}for {k} in {order}:", f"{deeper}{s.index} = {k}",
             *base.statements(s.body, deeper, par)]
    if write and s.init is not None:  # exclusive: the value before this element
        lines += [f"{deeper}{o}[{k}] = {a}" for o, a in zip(s.out, acc)]
    lines += [f"{deeper}if {started}:", *base.fold(s, acc, s.elem, deepest, par),
              f"{deeper}else:", *(f"{deepest}{a} = {e}" for a, e in zip(acc, s.elem)),
              f"{deepest}{started} = True"]
    if write and s.init is None:
        lines += [f"{deeper}{o}[{k}] = {a}" for o, a in zip(s.out, acc)]
    return lines


SCAN_LANES = 4  # segments per chunk, folded in step so that their dependency chains overlap


def scan_source(s: Scan, indent: str, par: bool = False) -> list[str]:
    """Serial below SERIAL_BELOW. Above, each chunk is cut into SCAN_LANES segments: segment
    totals in parallel, their prefixes serially, then every segment scanned in parallel from
    its prefix. Positions run from the end for reverse scans; everything else is as forward."""
    inner = indent + "    "
    serial = serial_scan(s, indent, par)
    if not s.parallel:
        return serial
    return [f"{indent}if {s.stop} < SERIAL_BELOW:",
                    *(line.replace(indent, inner, 1) for line in serial), f"{indent}else:",
                    *lane_totals(s, inner), *lane_prefixes(s, inner), *lane_scans(s, inner),
                    *base.raise_flagged(s.body + s.combine.body, inner)]


def serial_scan(s: Scan, indent: str, par: bool) -> list[str]:
    acc, flag = tuple(f"{o}_acc" for o in s.out), f"{s.out[0]}_started"
    return scan_start(s, indent) + scan_pass(s, acc, "0", s.stop, True, flag, indent, par)


def scan_start(s: Scan, indent: str) -> list[str]:
    """acc = init (exclusive) or nothing yet, with a flag saying which."""
    acc, flag = tuple(f"{o}_acc" for o in s.out), f"{s.out[0]}_started"
    if s.init is not None:
        return [f"{indent}{a} = {v}" for a, v in zip(acc, s.init)] + [f"{indent}{flag} = True"]
    return [*(f"{indent}{a} = np.{d}(0)" for a, d in zip(acc, s.dtypes)),  # typed before use
            f"{indent}{flag} = False"]


def lane_names(s: Scan, k=None):
    """Names shared by the parallel scan's loops; with `k`, the accumulators of lane k."""
    if k is not None:
        return tuple(f"{o}_acc{k}" for o in s.out)
    return tuple(f"{s.out[0]}_{x}" for x in ("n", "c", "lo", "hi", "m", "t"))


def lane_chunk(s: Scan, indent: str) -> list[str]:
    """`for c in prange(n)`, then the chunk's bounds, segment length and segment bases."""
    n, c, lo, hi, m, _ = lane_names(s)
    deeper = indent + "    "
    base = (lambda k: f"{s.stop} - 1 - {lo} - {k} * {m}") if s.reverse else (
        lambda k: f"{lo} + {k} * {m}")
    return [f"{indent}for {c} in prange({n}):", *bounds(c, n, s.stop, f"{lo}|{hi}", deeper),
            f"{deeper}{m} = ({hi} - {lo}) // {SCAN_LANES}",
            *(f"{deeper}{s.out[0]}_b{k} = {base(k)}" for k in range(SCAN_LANES))]


def lane_step(s: Scan, k: int, t: str, indent: str, write: bool, seed: str | None = None):
    """Element t of segment k: folded into the lane's accumulators (stored when `write`).
    A `seed` names a flag for the segment's first element: False when the accumulators hold
    nothing yet ("False": they never do)."""
    acc = lane_names(s, k)
    at = f"{s.out[0]}_b{k} {'-' if s.reverse else '+'} {t}"
    unsigned = base.only_subscript(s.index, s.body, s.elem)
    lines = [f"{indent}{s.index} = {f'np.uint64({at})' if unsigned else at}",
             *base.statements(s.body, indent, True)]
    store = [f"{indent}{o}[{s.index}] = {a}" for o, a in zip(s.out, acc)] if write else []
    take = [f"{indent}    {a} = {e}" for a, e in zip(acc, s.elem)]
    if seed == "False":
        return lines + [line[4:] for line in take] + store
    if seed:
        return lines + [f"{indent}if {seed}:", *base.fold(s, acc, s.elem, indent + "    ", True),
                        f"{indent}else:", *take, *store]
    exclusive, inclusive = (store, []) if s.init is not None else ([], store)
    return lines + exclusive + base.fold(s, acc, s.elem, indent, True) + inclusive


def lane_loops(s: Scan, indent: str, write: bool) -> list[str]:
    """Elements 1.. of every segment, in step, then the last segment's remainder."""
    _, _, lo, hi, m, t = lane_names(s)
    deeper, last = indent + "    ", SCAN_LANES - 1
    steps = [line for k in range(SCAN_LANES) for line in lane_step(s, k, t, deeper, write)]
    return [f"{indent}for {t} in range(1, {m}):", *steps,
            f"{indent}for {t} in range({m}, {hi} - {lo} - {last} * {m}):",
            *lane_step(s, last, t, deeper, write)]


def lane_totals(s: Scan, indent: str) -> list[str]:
    n, c = lane_names(s)[:2]
    deeper, lanes = indent + "    ", range(SCAN_LANES)
    part = tuple(f"{o}_part" for o in s.out)
    return [f"{indent}{n} = min({s.stop} // {SCAN_LANES}, CHUNKS)",  # no empty segment
            *(f"{indent}{p} = np.empty({n} * {SCAN_LANES}, np.{d})"
              for p, d in zip(part, s.dtypes)),
            *lane_chunk(s, indent),
            *(line for k in lanes for line in lane_step(s, k, "0", deeper, False, "False")),
            *lane_loops(s, deeper, False),
            *(f"{deeper}{p}[{c} * {SCAN_LANES} + {k}] = {a}"
              for k in lanes for p, a in zip(part, lane_names(s, k)))]


def lane_prefixes(s: Scan, indent: str) -> list[str]:
    """prefix[g] = the scan's start, then segments 0..g-1; has[g]: whether there is one."""
    n, c = lane_names(s)[:2]
    deeper = indent + "    "
    acc, flag = tuple(f"{o}_acc" for o in s.out), f"{s.out[0]}_started"
    part, prefix = tuple(f"{o}_part" for o in s.out), tuple(f"{o}_prefix" for o in s.out)
    return [*(f"{indent}{p} = np.empty({n} * {SCAN_LANES}, np.{d})"
              for p, d in zip(prefix, s.dtypes)),
            f"{indent}{flag}_has = np.empty({n} * {SCAN_LANES}, np.bool_)",  # all written
            *scan_start(s, indent),
            f"{indent}for {c} in range({n} * {SCAN_LANES}):",
            *(f"{deeper}{p}[{c}] = {a}" for p, a in zip(prefix, acc)),
            f"{deeper}{flag}_has[{c}] = {flag}",
            f"{deeper}if {flag}:", *base.fold(s, acc, tuple(f"{p}[{c}]" for p in part),
                                         deeper + "    "),
            f"{deeper}else:", *(f"{deeper}    {a} = {p}[{c}]" for a, p in zip(acc, part)),
            f"{deeper}    {flag} = True"]


def lane_scans(s: Scan, indent: str) -> list[str]:
    c = lane_names(s)[1]
    deeper, lanes = indent + "    ", range(SCAN_LANES)
    prefix = tuple(f"{o}_prefix" for o in s.out)
    seed = (lambda k: None) if s.init is not None else (
        lambda k: f"{s.out[0]}_started_has[{c} * {SCAN_LANES} + {k}]")
    return [*lane_chunk(s, indent),
            *(f"{deeper}{a} = {p}[{c} * {SCAN_LANES} + {k}]"
              for k in lanes for a, p in zip(lane_names(s, k), prefix)),
            *(line for k in lanes for line in lane_step(s, k, "0", deeper, True, seed(k))),
            *lane_loops(s, deeper, True)]


def filter_source(f: Filter, indent: str, par: bool = False) -> list[str]:
    """Count per chunk in parallel, prefix the counts, write per chunk in parallel."""
    inner, deeper, deepest = indent + "    ", indent + "        ", indent + "            "
    head, n, c, lohi = chunked(f.stop, f.out[0], indent)
    lo, hi = lohi.split("|")
    counts, total = f"{f.out[0]}_counts", f"{f.out[0]}_total"
    kind = "range" if not f.parallel else "prange"
    par = par or f.parallel
    local, chunk_counts = f"{f.out[0]}_kept", f"{f.out[0]}_chunk_counts"
    k = f.index
    # counted in int32 (a chunk holds at most 2^30 elements), which LLVM vectorises; an
    # int64 counter stored to an int64 array measured 3x slower
    count = [f"{indent}{chunk_counts} = np.empty({n}, np.int32)",
             f"{indent}for {c} in {kind}({n}):", *bounds(c, n, f.stop, lohi, inner),
             f"{inner}{local} = np.int32(0)",  # private: no shared cache line per element
             f"{inner}for {k} in range({lo}, {hi}):", *base.statements(f.body, deeper, par),
             f"{deeper}{local} += np.int32({f.keep})",
             f"{inner}{chunk_counts}[{c}] = {local}",
             # (np.zeros would be a parallel loop, waking the threads for n + 1 numbers)
             f"{indent}{counts} = np.empty({n} + 1, np.int64)", f"{indent}{counts}[0] = 0",
             f"{indent}for {c} in range({n}):",
             f"{inner}{counts}[{c} + 1] = {counts}[{c}] + {chunk_counts}[{c}]",
             f"{indent}{total} = {counts}[{n}]",
             *(line for o, d in zip(f.out, f.dtypes)
               for line in base.allocate(o, total, d, indent, not f.parallel))]
    # Written without a branch on `keep` (half the elements kept at random mispredicts half
    # the branches): every element is stored at the next free slot, which only a kept one
    # then claims; past the chunk's last kept element the slot is the next chunk's.
    at, end = f"{f.out[0]}_at", f"{f.out[0]}_end"
    write = [f"{indent}for {c} in {kind}({n}):", *bounds(c, n, f.stop, lohi, inner),
             f"{inner}{at} = np.uint64({counts}[{c}])",
             f"{inner}{end} = np.uint64({counts}[{c} + 1])",
             f"{inner}for {k} in range({lo}, {hi}):", *base.statements(f.body, deeper, par),
             f"{deeper}if {at} < {end}:",
             *(f"{deepest}{o}[{at}] = {e}" for o, e in zip(f.out, f.elem)),
             f"{deeper}{at} += np.uint64({f.keep})"]
    flagged = base.raise_flagged(f.body, indent) if f.parallel else []
    return head + count + write + flagged


def sort_source(s: SortIndices, indent: str, par: bool = False) -> list[str]:
    """Bottom-up merge sort of an index array: the merges of one pass run in parallel."""
    i1, i2, i3, i4 = (indent + "    " * k for k in range(1, 5))
    p, t, w = s.perm, f"{s.perm}_tmp", f"{s.perm}_width"
    lo, mid, hi, a, b, k = (f"{s.perm}_{x}" for x in ("lo", "mid", "hi", "i", "j", "k"))
    pair = f"{s.perm}_pair"
    kind = "prange" if s.parallel else "range"
    take = [f"{i4}{s.left} = {p}[{b}]", f"{i4}{s.right} = {p}[{a}]",
            *base.statements(s.body, i4, s.parallel or par),
            f"{i4}if {s.less}:", f"{i4}    {t}[{k}] = {p}[{b}]", f"{i4}    {b} += 1",
            f"{i4}else:", f"{i4}    {t}[{k}] = {p}[{a}]", f"{i4}    {a} += 1",
            f"{i4}{k} += 1"]
    # (np.arange is a parallel loop under parallel=True: a small sort numbers serially)
    return [f"{indent}if {s.stop} < SERIAL_BELOW:", f"{i1}{p} = np.empty({s.stop}, np.int64)",
            f"{i1}for {k} in range({s.stop}):", f"{i2}{p}[{k}] = {k}",
            f"{indent}else:", f"{i1}{p} = np.arange({s.stop})",
            f"{indent}{t} = np.empty({s.stop}, np.int64)",
            f"{indent}{w} = 1", f"{indent}while {w} < {s.stop}:",
            f"{i1}for {pair} in {kind}(({s.stop} + 2 * {w} - 1) // (2 * {w})):",
            f"{i2}{lo} = {pair} * 2 * {w}", f"{i2}{mid} = min({lo} + {w}, {s.stop})",
            f"{i2}{hi} = min({lo} + 2 * {w}, {s.stop})",
            f"{i2}{a} = {lo}", f"{i2}{b} = {mid}", f"{i2}{k} = {lo}",
            f"{i2}while {a} < {mid} and {b} < {hi}:", *(line[4:] for line in take),
            f"{i2}while {a} < {mid}:", f"{i3}{t}[{k}] = {p}[{a}]", f"{i3}{a} += 1",
            f"{i3}{k} += 1",
            f"{i2}while {b} < {hi}:", f"{i3}{t}[{k}] = {p}[{b}]", f"{i3}{b} += 1",
            f"{i3}{k} += 1",
            f"{i1}{p}, {t} = {t}, {p}", f"{i1}{w} *= 2",
            *(base.raise_flagged(s.body, indent) if s.parallel else [])]
