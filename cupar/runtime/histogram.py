"""A `Histogram`'s accumulations as ordinary kernel IR, common to both back ends: each
back end picks its own scheme (cpu/histogram.py, cuda/schemes.py) and lands the values
with these."""

from __future__ import annotations

from dataclasses import replace

from ..compiler.kernel_ir import Accumulate, Assign, Histogram, If, Loop, Store


def serial_histogram(h: Histogram) -> Loop:
    """The histogram as a sequential loop updating dest in place."""
    return Loop(h.index, h.stop, landing(h.body, fold_into(h, h.dest)), parallel=False)


def landing(stmts: tuple, land) -> tuple:
    """`stmts` with every Accumulate replaced by the statements `land(accumulate)`."""
    out = []
    for s in stmts:
        if isinstance(s, Accumulate):
            out += land(s)
        elif isinstance(s, If):
            out.append(replace(s, then=landing(s.then, land), orelse=landing(s.orelse, land)))
        elif isinstance(getattr(s, "body", None), tuple):
            out.append(replace(s, body=landing(s.body, land)))
        else:
            out.append(s)
    return tuple(out)


def fold_into(h: Histogram, array: str):
    """array[index] = combine(array[index], value), through the combine's own names."""
    c = h.combine

    def land(a: Accumulate) -> list:
        at = unsigned(a.index)
        return [Assign(c.left[0], f"{array}[{at}]"), Assign(c.right[0], a.value),
                *c.body, Store(array, at, c.out[0])]
    return land


def unsigned(index: str) -> str:
    """An Accumulate's index (in range: checked before) as unsigned integers, for which
    Numba makes no negative-index fix-up on every access."""
    return ", ".join(f"np.uint64({part.strip()})" for part in index.split(","))
