"""Numba source of a `MatMul` statement (the loops themselves are matmul.py's).

A parallel loop over the product's tiles; each iteration computes its tile with
`product_tile`, then runs the epilogue on every element of the tile and stores the result.
A product with no epilogue is computed straight into its array. Small products (under
SERIAL_PRODUCT multiply-adds, half a million: 32x64 @ 64x128 takes 6 us on one core)
run serially: starting threads costs as much as they save, and on a busy machine a thread
not yet scheduled keeps the caller spinning at the barrier (a training step at batch 32,
its two largest products then parallel, took 0.2-1.2 ms of CPU time instead of 0.16).
"""

from __future__ import annotations

import re

from ...compiler.kernel_ir import MatMul
from . import codegen as base  # mutual: codegen's `statement` calls back here

IMPORT = ("from cupar.runtime.cpu.matmul import (SERIAL_PRODUCT, alone_threads, "
          "blas_reads_transposed, product_tile, rows_of, tile_shape)\n")
USED = re.compile(r"\bproduct_tile\(")


def matmul_source(s: MatMul, indent: str, par: bool) -> list[str]:
    inner = indent + "    "
    o = s.out
    # a transposed b is read by BLAS as it is, or copied into rows for cupar's loops
    bt = f"blas_reads_transposed({s.a}, {s.b})" if s.b_transposed else "False"
    # alone: no cupar thread runs beside this product, so BLAS may use its own threads
    threads = f"alone_threads({s.rows}, {s.cols}, {s.inner})" if not (par or s.parallel) \
        else "0"
    head = [f"{indent}{o}_bt = {bt}",
            f"{indent}{o}_b = rows_of({s.b}, {s.b_transposed} and not {o}_bt)",
            f"{indent}{o}_threads = {threads}",
            f"{indent}{o}_mc, {o}_nc = tile_shape({s.rows}, {s.cols}, {s.inner}, {o}_threads)",
            f"{indent}{o}_cb = ({s.cols} + {o}_nc - 1) // {o}_nc",
            f"{indent}{o}_nt = ({s.rows} + {o}_mc - 1) // {o}_mc * {o}_cb"]
    if par or not s.parallel:
        return head + tiles(s, "range", indent, par)
    return head + [f"{indent}if {s.rows} * {s.cols} * {s.inner} < SERIAL_PRODUCT:",
                   *tiles(s, "range", inner, False), f"{indent}else:",
                   *tiles(s, "prange", inner, True), *base.raise_flagged(s.body, indent)]


def tiles(s: MatMul, kind: str, indent: str, par: bool) -> list[str]:
    """The loop over tiles: t -> rows i0..i1-1, columns j0..j1-1."""
    o, i1, i2, i3 = s.out, indent + "    ", indent + "        ", indent + "            "
    threads = f"max({o}_threads, 1)"
    a = f"{s.a}, {s.a_transposed}, {o}_b, {o}_bt"
    # (max(..., 0): LLVM then knows the epilogue's row and column indices are not negative
    # and reads its arrays contiguously; it gathered and scattered them, wrapping negative
    # indices, and an LSTM step's 100 x 256 epilogue of two bias adds took 24 us, not 4)
    lines = [f"{indent}for {o}_t in {kind}({o}_nt):",
             f"{i1}{o}_i0 = max({o}_t // {o}_cb * {o}_mc, 0)",
             f"{i1}{o}_j0 = max({o}_t % {o}_cb * {o}_nc, 0)",
             f"{i1}{o}_i1 = min({o}_i0 + {o}_mc, {s.rows})",
             f"{i1}{o}_j1 = min({o}_j0 + {o}_nc, {s.cols})"]
    bounds = f"{o}_i0, {o}_i1, {o}_j0, {o}_j1"
    if not s.body and s.value == s.acc:  # nothing to apply: straight into the result
        return lines + [f"{i1}product_tile({a}, {bounds}, {o}, {o}_i0, {o}_j0, {threads})"]
    return lines + [
        f"{i1}{o}_tile = np.empty(({o}_mc, {o}_nc), np.{s.dtype})",
        f"{i1}product_tile({a}, {bounds}, {o}_tile, 0, 0, {threads})",
        f"{i1}for {o}_r in range({o}_i1 - {o}_i0):",
        f"{i2}{s.i} = {o}_i0 + {o}_r",
        f"{i2}for {o}_c in range({o}_j1 - {o}_j0):",
        f"{i3}{s.j} = {o}_j0 + {o}_c",
        f"{i3}{s.acc} = {o}_tile[{o}_r, {o}_c]",
        *(base.statements(s.body, i3, par) if s.body else []),
        f"{i3}{o}[{s.i}, {s.j}] = {s.value}"]
