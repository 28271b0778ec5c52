"""Numba source for a parallel loop whose elements each run a divergent `while` loop (tail
recursion: escape-time fractals, per-element Newton or bisection iterations).

One element's iterations form a dependency chain, so one element at a time leaves the core
mostly idle, waiting on floating-point latency. Here each prange iteration takes LANES
consecutive elements and advances all of them in step: the lanes' loop bodies are written
out one after another, with renamed variables, inside one `while` that runs until every lane
has finished, so the processor overlaps LANES independent chains. A lane that has finished
is skipped. The elements after the last whole group run as before. Each lane performs
exactly the operations of the original loop, in the original order, so results are the
same bit for bit.

Only loops of plain statements are interleaved: no inner loops other than the one `while`,
whose own `break` and `continue` are the only ones.
"""

from __future__ import annotations

import re

from ...compiler.kernel_ir import Assign, Break, Continue, Fail, If, Loop, Store, While
from . import codegen as base  # mutual: codegen's `statement` calls `interleaved_loop`

LANES = 4  # elements in step per prange iteration (the chain is ~4 dependent operations)
PLAIN = (Assign, Store, Fail, If, Break, Continue)


def interleavable(s: Loop) -> bool:
    """Whether `s` is a parallel loop whose body is plain statements around one `while`."""
    whiles = [x for x in s.body if isinstance(x, While)]
    if len(whiles) != 1:
        return False
    rest = [x for x in s.body if not isinstance(x, While)] + list(whiles[0].body)
    return all(_plain(x) for x in rest)


def _plain(s) -> bool:
    if isinstance(s, If):
        return all(_plain(x) for x in s.then + s.orelse)
    return isinstance(s, PLAIN)


def interleaved_loop(s: Loop, indent: str) -> list[str]:
    i1, i2, i3 = (indent + "    " * k for k in (1, 2, 3))
    at = s.body.index(next(x for x in s.body if isinstance(x, While)))
    before, loop, after = s.body[:at], s.body[at], s.body[at + 1:]
    names = _assigned(s.body) | {s.index}
    group, groups = f"{s.index}_group", f"{s.index}_groups"
    active = [f"{s.index}_active{k}" for k in range(LANES)]
    step = base.statements(loop.body, "", True)
    lines = [f"{indent}{groups} = ({s.stop} - {s.start}) // {LANES}",
             f"{indent}for {group} in prange({groups}):"]
    for k in range(LANES):
        lane = _renamer(names, k)
        lines += [f"{i1}{lane(s.index)} = {s.start} + {group} * {LANES} + {k}",
                  *(lane(x) for x in base.statements(before, i1, True)), f"{i1}{active[k]} = True"]
    lines += [f"{i1}while {' or '.join(active)}:", *base.stop_on_failure(loop.body, i2, True)]
    for k in range(LANES):
        lane = _renamer(names, k)
        lines += [f"{i2}if {active[k]}:", f"{i3}for {s.index}_once in range(1):",
                  *(i3 + "    " + _finish(lane(x), active[k]) for x in step)]
    for k in range(LANES):
        lines += [_renamer(names, k)(x) for x in base.statements(after, i1, True)]
    rest = Loop(s.index, s.stop, s.body, False, f"{s.start} + {groups} * {LANES}")
    return lines + base.loop(rest, "range", indent, True)


def _finish(line: str, active: str) -> str:
    """A `break` of the element's loop ends this lane; its `continue` ends this step."""
    if line.strip() == "break":
        return line.replace("break", f"{active} = False; break")
    return line


def _renamer(names: set, k: int):
    pattern = re.compile(r"(?<![\w.])(" + "|".join(sorted(map(re.escape, names))) + r")(?!\w)")
    return lambda line: pattern.sub(rf"\1_lane{k}", line)


def _assigned(stmts) -> set:
    out = set()
    for s in stmts:
        if isinstance(s, Assign):
            out.add(s.target)
        elif isinstance(s, If):
            out |= _assigned(s.then) | _assigned(s.orelse)
        elif isinstance(s, While):
            out |= _assigned(s.body)
    return out
