"""The cpu matrix product's inner loops, which the generated code of a `MatMul` calls.

The product is cut into tiles of MC rows by NC columns, one parallel iteration each (see
`tile_shape`); the generated code computes a tile with `product_tile`, then runs the
consumer's per-element code (the epilogue: a bias, an activation) over the tile while it is
in cache, storing each result once.

`product_tile` is a register-blocked loop written so that LLVM's loop vectoriser (Numba
leaves the SLP vectoriser off) makes it: for eight rows of `a` and four steps of the inner
length at a time, the 32 numbers of `a` are loaded into registers, and the innermost loop
runs along the columns, reading four rows of `b` and updating eight rows of the tile, each
by four multiply-adds: 32 fused multiply-adds per 12 vector loads and 8 stores. The inner
length is cut into KC-long blocks so that the rows of `b` in use stay in cache.

`a` is read one number at a time, so it may be a transposed view (`at`); `b` is read along
its rows, which must be contiguous: a transposed `b` is copied first (`rows_of`).
Measured on the 2-core development machine (float32; benchmarks/matmul_sizes.py): 1024^3
in 6.3 ms on both cores against NumPy's (OpenBLAS) 9.1 ms; one core each (steadier on a
shared machine), 1024^3 13.1 ms against 17.4 (Numba calling BLAS through SciPy's np.dot:
17.3), 32x1024 @ 1024x1024 0.39 ms against 0.62 (0.84), 256x512 @ 512x512 1.14 against 1.09
(1.13), 1024x1024 @ 1024x64 1.54 against 1.14 (1.15). BLAS is therefore not called: it would
need SciPy, gain little, and split the epilogue into a second pass. The smallest products
(32x64 @ 64x128: 9.5 us against 5.9) pay call and set-up costs that BLAS's C entry avoids.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

FLOAT_OPTIONS = {"contract"}  # fused multiply-adds; no reassociation is needed
KC = 256  # inner-length block: 4 rows of b of up to NC floats stay in L1/L2
MC, NC = 32, 512  # the largest tile: 64 KiB of float32, in L2 while the epilogue runs


@numba.njit(cache=True, nogil=True)
def tile_shape(n: int, m: int, threads: int) -> tuple:
    """(rows, columns) of a tile: the largest (MC, NC) tile that still gives every one of
    `threads` two tiles, halving rows down to 8 and columns down to 64 until it does. (The
    caller passes its compile-time thread count: numba.get_num_threads() here would read a
    ctypes pointer, which keeps Numba from caching this and every function calling it.)"""
    rows, cols = MC, NC
    while rows > 8 and -(-n // rows) * -(-m // cols) < 2 * threads:
        rows //= 2
    while cols > 64 and -(-n // rows) * -(-m // cols) < 2 * threads:
        cols //= 2
    return rows, cols


SERIAL_TRANSPOSE = 1 << 16  # elements below which a transposing copy starts no threads


@numba.njit(parallel=True, cache=True, nogil=True)
def rows_of(x, transposed: bool):
    """`x`, or its transpose copied into contiguous rows (in blocks, in parallel; serially
    below SERIAL_TRANSPOSE elements: waking the threads for a layer's weights, in a program
    otherwise serial, took milliseconds on a loaded machine)."""
    if not transposed:
        return x
    k, m = x.shape[1], x.shape[0]
    out = np.empty((k, m), x.dtype)
    if k * m < SERIAL_TRANSPOSE:
        for block in range((k + 31) // 32):
            transpose_block(x, out, block)
    else:
        for block in prange((k + 31) // 32):
            transpose_block(x, out, block)
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def transpose_block(x, out, block):
    """Rows block * 32 .. + 31 of out = x's transpose, in 32 x 32 tiles."""
    k, m = x.shape[1], x.shape[0]
    for j0 in range(0, m, 32):
        for p in range(block * 32, min(block * 32 + 32, k)):
            for j in range(j0, min(j0 + 32, m)):
                out[p, j] = x[j, p]


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True)
def product_tile(a, at: bool, b, i0, i1, j0, j1, dest, di, dj):
    """dest[di + r, dj + c] = sum over p of A[i0 + r, p] * b[p, j0 + c], for the rows
    i0..i1-1 and columns j0..j1-1, where A is `a`, or `a`'s transpose when `at`."""
    k = b.shape[0]
    for r in range(i1 - i0):
        for c in range(j1 - j0):
            dest[di + r, dj + c] = 0
    for p0 in range(0, k, KC):
        p1 = min(p0 + KC, k)
        i = i0
        while i + 8 <= i1:
            eight_rows(a, at, b, i, p0, p1, j0, j1, dest, di + i - i0, dj)
            i += 8
        while i < i1:
            one_row(a, at, b, i, p0, p1, j0, j1, dest, di + i - i0, dj)
            i += 1


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True, inline="always")
def at4(a, at: bool, i, p):
    """A[i, p..p+3] (A is a, or a's transpose)."""
    if at:
        return a[p, i], a[p + 1, i], a[p + 2, i], a[p + 3, i]
    return a[i, p], a[i, p + 1], a[i, p + 2], a[i, p + 3]


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True, inline="always")
def eight_rows(a, at: bool, b, i, p0, p1, j0, j1, dest, r, dj):
    """Rows i..i+7 of the product, inner positions p0..p1-1, into dest rows r..r+7."""
    c0, c1, c2, c3 = dest[r], dest[r + 1], dest[r + 2], dest[r + 3]
    c4, c5, c6, c7 = dest[r + 4], dest[r + 5], dest[r + 6], dest[r + 7]
    p = p0
    width = np.uint64(j1 - j0)  # unsigned subscripts: no negative-index wrap to vectorise
    start, to = np.uint64(j0), np.uint64(dj)
    while p + 4 <= p1:
        b0, b1, b2, b3 = b[p], b[p + 1], b[p + 2], b[p + 3]
        x0, x1, x2, x3 = at4(a, at, i, p), at4(a, at, i + 1, p), at4(a, at, i + 2, p), \
            at4(a, at, i + 3, p)
        x4, x5, x6, x7 = at4(a, at, i + 4, p), at4(a, at, i + 5, p), at4(a, at, i + 6, p), \
            at4(a, at, i + 7, p)
        for c in range(width):
            j, d = start + c, to + c
            v0, v1, v2, v3 = b0[j], b1[j], b2[j], b3[j]
            c0[d] += x0[0] * v0 + x0[1] * v1 + x0[2] * v2 + x0[3] * v3
            c1[d] += x1[0] * v0 + x1[1] * v1 + x1[2] * v2 + x1[3] * v3
            c2[d] += x2[0] * v0 + x2[1] * v1 + x2[2] * v2 + x2[3] * v3
            c3[d] += x3[0] * v0 + x3[1] * v1 + x3[2] * v2 + x3[3] * v3
            c4[d] += x4[0] * v0 + x4[1] * v1 + x4[2] * v2 + x4[3] * v3
            c5[d] += x5[0] * v0 + x5[1] * v1 + x5[2] * v2 + x5[3] * v3
            c6[d] += x6[0] * v0 + x6[1] * v1 + x6[2] * v2 + x6[3] * v3
            c7[d] += x7[0] * v0 + x7[1] * v1 + x7[2] * v2 + x7[3] * v3
        p += 4
    while p < p1:  # the last few inner positions, one at a time
        bp = b[p]
        for q in range(8):
            x = a[p, i + q] if at else a[i + q, p]
            row = dest[r + q]
            for c in range(width):
                row[to + c] += x * bp[start + c]
        p += 1


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True, inline="always")
def one_row(a, at: bool, b, i, p0, p1, j0, j1, dest, r, dj):
    """Row i of the product, inner positions p0..p1-1, into dest row r."""
    row = dest[r]
    width, start, to = np.uint64(j1 - j0), np.uint64(j0), np.uint64(dj)
    for p in range(p0, p1):
        x, bp = (a[p, i] if at else a[i, p]), b[p]
        for c in range(width):
            row[to + c] += x * bp[start + c]
