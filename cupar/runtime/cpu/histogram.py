"""`Histogram` statements (reduce_by_index) -> Numba source at cpu (codegen.py calls it).

The destination already holds its initial contents; every `Accumulate` in the body combines a
value into it. The operator is associative and commutative, so the values of one element may
land in any order. Which way is fastest depends on the destination's size against the
number of values (measured with hand-written versions of each, 2^24 random values, 2 cores):

* private copies: each thread folds its share of the values into a private copy of the
  destination (started from the operator's neutral element, or with a `has` flag per
  element where the operator has none), then one parallel pass over the destination folds
  the copies into it. Best while the copies are small next to the values
  (THREADS * bins <= values): into 2^20 bins 12 ms against 16 for a sequential loop; into
  256 bins both are memory-bound (5-6 ms).
* atomics: one `atomicrmw` per value into the destination itself (`lib.atomic_*`).
  Best for large destinations, where values rarely meet: into 2^24 int64 bins 70 ms against
  140 sequential and 170 private (float32, a compare-and-swap loop: 92 against 90 and 113);
  terrible for small ones (256 bins: 600-950 ms, every thread fighting for the same cache
  lines). Only adds, and max/min of integers, have them.
* a sequential loop: small inputs, and large destinations with no atomic instruction.

Each scheme is the Histogram's body with its `Accumulate`s rewritten into ordinary kernel IR
(`landing`), so the rest of codegen.py generates it.
"""

from __future__ import annotations


from ...compiler.kernel_ir import Accumulate, Assign, Histogram, If, Loop, Store
from ..histogram import fold_into, landing, unsigned

ATOMIC_DTYPES = {"add": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                         "uint64", "float32", "float64")}
ATOMIC_DTYPES["max"] = ATOMIC_DTYPES["min"] = ATOMIC_DTYPES["add"][:8]


def histogram_source(h: Histogram, indent: str, par: bool, statements, raise_flagged
                     ) -> list[str]:
    """`statements(stmts, indent, par)` and `raise_flagged(stmts, indent)` are codegen.py's."""
    serial = [*index_loop(h, "range", "0", h.stop),
              *statements(landing(h.body, fold_into(h, h.dest)), "    ", par)]
    if not h.parallel:
        return [indent + line for line in serial]
    inner = indent + "    "
    schemes = [(f"{h.stop} < SERIAL_BELOW", serial),
               (f"THREADS * {h.dest}.shape[0] <= {h.stop}", private(h, statements, raise_flagged))]
    last = atomic(h, statements, raise_flagged) if h.dtype in ATOMIC_DTYPES.get(h.op, ()) \
        else serial
    lines = []
    for k, (cond, body) in enumerate(schemes):
        lines += [f"{indent}{'if' if k == 0 else 'elif'} {cond}:",
                  *(inner + line for line in body)]
    return lines + [f"{indent}else:", *(inner + line for line in last)]


def flagged(h: Histogram, array: str, has: str):
    """fold_into, where `has` says whether the element holds a value yet."""
    def land(a: Accumulate) -> list:
        at = unsigned(a.index)
        first = (Store(array, at, a.value), Store(has, at, "True"))
        return [If(f"{has}[{at}]", tuple(fold_into(h, array)(a)), first)]
    return land


def private(h: Histogram, statements, raise_flagged) -> list[str]:
    """A private copy per thread (of the dest's shape), folded into dest afterwards."""
    name = lambda x: f"{h.dest}_{x}"  # noqa: E731
    part, has, c, lo, hi, j = map(name, ("part", "has", "c", "lo", "hi", "j"))
    mine, mine_has = name("mine"), name("mine_has")
    flags = h.identity is None
    land = flagged(h, mine, mine_has) if flags else fold_into(h, mine)
    start = [f"    {mine_has} = {has}[{c}]", f"    {mine_has}.fill(False)"] if flags else \
        [f"    {mine}.fill({h.identity})"]
    lines = [f"{part} = np.empty((THREADS,) + {h.dest}.shape, np.{h.dtype})",
             *([f"{has} = np.empty((THREADS,) + {h.dest}.shape, np.bool_)"] if flags else []),
             f"for {c} in prange(THREADS):",
             f"    {lo} = {c} * {h.stop} // THREADS",
             f"    {hi} = ({c} + 1) * {h.stop} // THREADS",
             f"    {mine} = {part}[{c}]", *start,
             *index_loop(h, "range", lo, hi, "    "),
             *statements(landing(h.body, land), "        ", True),
             *raise_flagged(h.body, "")]
    # then each element of dest (each row, for rows) folds the copies that hold a value
    return lines + [f"for {j} in prange({h.dest}.shape[0]):",
                    *statements((copies_into(h, c, j, part, has if flags else None),), "    ",
                                True)]


def copies_into(h: Histogram, c: str, j: str, part: str, has: str | None) -> Loop:
    """Element j of dest (its columns q, for rows) folding in the private copies."""
    q = f"{h.dest}_q"
    cell = f"{j}, {q}" if h.rows else j
    land = fold_into(h, h.dest)(Accumulate(cell, f"{part}[{c}, {cell}]"))
    if has is not None:
        land = [If(f"{has}[{c}, {cell}]", tuple(land), ())]
    if h.rows:
        land = [Loop(q, f"{h.dest}.shape[1]", tuple(land), parallel=False)]
    return Loop(c, "THREADS", tuple(land), parallel=False)


def atomic(h: Histogram, statements, raise_flagged) -> list[str]:
    def land(a: Accumulate) -> list:
        return [Assign(f"{h.dest}_done", f"atomic_{h.op}({h.dest}, ({a.index}), {a.value})")]
    return [*index_loop(h, "prange", "0", h.stop),
            *statements(landing(h.body, land), "    ", True), *raise_flagged(h.body, "")]


def index_loop(h: Histogram, kind: str, start: str, stop: str, indent: str = "") -> list[str]:
    """The head of the loop over the values; its index unsigned where it is only a
    subscript, which spares Numba's negative-index fix-up on every read (2^24 values into
    256 bins: 3.6 ms against 6.1)."""
    from .codegen import only_subscript  # (codegen imports this module)
    if not only_subscript(h.index, landing(h.body, fold_into(h, h.dest))):
        return [f"{indent}for {h.index} in {kind}({start}, {stop}):"]
    k = h.index + "_k"
    return [f"{indent}for {k} in {kind}({start}, {stop}):",
            f"{indent}    {h.index} = np.uint64({k})"]
