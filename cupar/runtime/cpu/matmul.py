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
its rows, which must be contiguous: a transposed `b` is copied first (`rows_of`), unless
BLAS computes the product and reads it transposed as it is (a layer's backward pass,
`dY @ W.T`: the copy of W took longer than an LSTM step's product).
Measured on the 2-core development machine (float32; benchmarks/matmul_sizes.py): 1024^3
in 6.3 ms on both cores against NumPy's (OpenBLAS) 9.1 ms; one core each (steadier on a
shared machine), 1024^3 13.1 ms against 17.4 (Numba calling BLAS through SciPy's np.dot:
17.3), 32x1024 @ 1024x1024 0.39 ms against 0.62 (0.84), 256x512 @ 512x512 1.14 against 1.09
(1.13), 1024x1024 @ 1024x64 1.54 against 1.14 (1.15). The products of small models' layers
are another matter (100x192 @ 192x64: 47.6 us against BLAS's 22.0), so a float tile is
computed by the BLAS NumPy ships where there is one (blas.py, called from compiled
code, one thread per tile), and by these loops otherwise: integers, rows that are not
contiguous, a NumPy without scipy-openblas. The epilogue still runs on the tile in cache.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange
from numba.np.ufunc import parallel as _threading

from .blas import blas_ready, blas_reads_transposed, blas_tile, one_float_type  # noqa: F401

# The thread count as a call of the threading layer's C function by its symbol name, not
# `numba.get_num_threads()`, whose ctypes pointer is a dynamic global: a function using that
# cannot be cached on disk, nor can any function calling it (every generated kernel with a
# matrix product, which then compiled afresh in each process: about a minute for a training
# step). The symbol is registered when the threads are launched, so launch them now.
_threading._launch_threads()
_num_threads = _threading._iget_num_threads

FLOAT_OPTIONS = {"contract"}  # fused multiply-adds; no reassociation is needed
KC = 256  # inner-length block: 4 rows of b of up to NC floats stay in L1/L2
MC, NC = 32, 512  # the largest tile: 64 KiB of float32, in L2 while the epilogue runs
NARROW = 16  # columns: a narrower tile is computed transposed
SERIAL_PRODUCT = 1 << 19  # multiply-adds: a smaller product runs serially (the generated
# code's test, matmul_source.py)
PARALLEL_COPY = 1 << 16  # elements: a smaller transposed operand is copied on one core


THREADED_PRODUCT = 1 << 22  # multiply-adds: a product computed alone at least this large
# is one BLAS call on BLAS's own threads (`alone_threads`)


@numba.njit(cache=True, nogil=True)
def alone_threads(n: int, m: int, k: int) -> int:
    """The threads BLAS may use for an n x k @ k x m product computed where no cupar thread
    runs beside it (a small call's serial variant; outside any parallel loop): one below
    THREADED_PRODUCT multiply-adds (OpenBLAS's threads made a 100x64 @ 64x256 product
    slower), else as many as Numba's (numba.set_num_threads bounds both)."""
    if n * m * k < THREADED_PRODUCT:
        return 1
    return max(min(blas_ready(), _num_threads()), 1)


@numba.njit(cache=True, nogil=True)
def tile_shape(n: int, m: int, k: int, threads: int = 0) -> tuple:
    """(rows, columns) of a tile for an n x k @ k x m product: the largest (MC, NC) tile
    that still gives every thread two tiles, halving rows down to 8 and columns down to 64
    until it does; a product computed serially (under SERIAL_PRODUCT multiply-adds) is not
    cut for threads. `threads`: a product computed alone, by BLAS on that many threads
    (`alone_threads`): one tile, or if 1, not cut for threads. (The thread count is read at
    each call: a cached constant would outlive a change of it.)"""
    if threads > 1:
        return max(n, 1), max(m, 1)
    rows, cols = MC, NC
    threads = 1 if threads or n * m * k < SERIAL_PRODUCT else _num_threads()
    if m < NARROW:  # a narrow product is computed transposed (`narrow_tile`): taller tiles
        rows = MC * 8
    while rows > 8 and -(-n // rows) * -(-m // cols) < 2 * threads:
        rows //= 2
    while cols > 64 and -(-n // rows) * -(-m // cols) < 2 * threads:
        cols //= 2
    return rows, min(cols, max(m, 1))  # (no wider than the product: the epilogue's tile)


@numba.njit(parallel=True, cache=True, nogil=True)
def rows_of(x, transposed: bool):
    """`x`, or its transpose copied into contiguous rows (in blocks; in parallel from
    PARALLEL_COPY elements: below, starting the threads costs more than the copy, and a
    thread that the system has not scheduled yet keeps the caller spinning at the barrier,
    which on a busy machine made a small training step 100 times slower)."""
    if not transposed:
        return x
    k, m = x.shape[1], x.shape[0]
    out = np.empty((k, m), x.dtype)
    blocks = (k + 31) // 32
    if k * m < PARALLEL_COPY:
        for block in range(blocks):
            transpose_block(x, out, block, k, m)
    else:
        for block in prange(blocks):
            transpose_block(x, out, block, k, m)
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def transpose_block(x, out, block, k, m):
    """Rows block * 32 .. block * 32 + 31 of x's transpose, into out."""
    for j0 in range(0, m, 32):
        for p in range(block * 32, min(block * 32 + 32, k)):
            for j in range(j0, min(j0 + 32, m)):
                out[p, j] = x[j, p]


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True)
def product_tile(a, at: bool, b, bt: bool, i0, i1, j0, j1, dest, di, dj, threads=1):
    """dest[di + r, dj + c] = sum over p of A[i0 + r, p] * B[p, j0 + c], for the rows
    i0..i1-1 and columns j0..j1-1, where A is `a`, or `a`'s transpose when `at`, and B is
    `b`, or `b`'s transpose when `bt`: by BLAS where it can (`blas_tile`), else by the loops
    below. The generated code passes `bt` only where BLAS takes that transpose as it is
    (`blas_reads_transposed`); the loops read B's rows, so for them it is copied (a tile
    BLAS declined: an empty product). `threads`: BLAS's, see `alone_threads`."""
    if one_float_type(a, b, dest) and blas_tile(a, at, b, bt, i0, i1, j0, j1, dest, di, dj,
                                                threads):
        return
    own_tile(a, at, rows_of(b, True) if bt else b, i0, i1, j0, j1, dest, di, dj)


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True)
def own_tile(a, at: bool, b, i0, i1, j0, j1, dest, di, dj):
    """`product_tile` by cupar's loops. A tile
    fewer than NARROW columns wide (a layer of 10 outputs, its weights' gradient), whose
    inner loop along the columns ran scalar, is computed as dot products of rows
    (`narrow_dots`), or when `at` and at least 4 * NARROW rows tall, transposed
    (`narrow_tile`; a shorter transposed tile's rows are too short for the vector loop to
    pay its set-up)."""
    if j1 - j0 < NARROW and at and i1 - i0 >= 4 * NARROW:
        narrow_tile(a, b, i0, i1, j0, j1, dest, di, dj)
    elif j1 - j0 < NARROW and not at and b.shape[0] >= NARROW:
        narrow_dots(a, b, i0, i1, j0, j1, dest, di, dj)
    else:
        wide_tile(a, at, b, i0, i1, j0, j1, dest, di, dj)


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True)
def narrow_tile(a, b, i0, i1, j0, j1, dest, di, dj):
    """`product_tile` of a narrow tile of a's transpose times b, as its transpose: b's
    columns times a's rows. The inner loop then runs along the tile's rows, which
    vectorises, not along its few columns, which ran scalar (128x32 @ 32x10, a's
    transpose: 7.7 -> 3.1 us; NumPy 2.1)."""
    h, w = i1 - i0, j1 - j0
    tile = np.empty((w, h), dest.dtype)
    wide_tile(b, True, a, j0, j1, i0, i1, tile, 0, 0)
    for r in range(h):
        for c in range(w):
            dest[di + r, dj + c] = tile[c, r]


@numba.njit(fastmath={"contract", "reassoc"}, cache=True, nogil=True)
def narrow_dots(a, b, i0, i1, j0, j1, dest, di, dj):
    """`product_tile` of a narrow tile of a times b: each element a dot product of a row of
    a and a column of b (copied into a row first), summed in vector lanes (reassociated:
    a different order, not a less accurate one). (32x128 @ 128x10: 6.9 -> 4.3 us; 256x128
    @ 128x10: 49 -> 14 us; NumPy 2.2 and 9.8.)"""
    k, w = b.shape[0], j1 - j0
    columns = np.empty((w, k), dest.dtype)
    for p in range(k):
        for c in range(w):
            columns[c, p] = b[p, j0 + c]
    zero = np.zeros(1, dest.dtype)[0]
    for r in range(i1 - i0):
        row = a[i0 + r]
        for c in range(w):
            column = columns[c]
            total = zero
            for p in range(k):
                total += row[p] * column[p]
            dest[di + r, dj + c] = total


@numba.njit(fastmath=FLOAT_OPTIONS, cache=True, nogil=True)
def wide_tile(a, at: bool, b, i0, i1, j0, j1, dest, di, dj):
    """`product_tile`, the register-blocked loops."""
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
