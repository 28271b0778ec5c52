"""Hand-written numba-cuda kernels: what a competent CUDA user writes in Numba.

Maps are grid-stride loops over a grid sized to fill the device; reductions are per-thread
partial sums folded by a shared-memory tree in each block, then a second one-block pass over
the block partials; the scan is reduce-then-scan over tiles of one element per thread
(tile totals, a recursive scan of the totals, then each tile scanned with its carry-in);
filter is the same shape with 0/1 flags; sort is a bitonic network over a power-of-two
padded copy. Everything stays float32 (module-level float32 constants: Numba reads globals as
constants of their own type, so a plain 0.5 would make the arithmetic float64).

Every kernel is also correct under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), which
runs each CUDA thread as a Python thread: there blocks are small and grids capped, so that a
tiny run stays quick while still crossing block and grid boundaries.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
from numba import cuda

SIMULATED = bool(numba.config.ENABLE_CUDASIM)
BLOCK = 32 if SIMULATED else 256  # threads per block; a power of two (the trees halve it)
F32 = np.float32
ZERO, HALF, ONE, TWO, FOUR = F32(0.0), F32(0.5), F32(1.0), F32(2.0), F32(4.0)
A1, A2, A3, A4, A5 = F32(0.31938153), F32(-0.356563782), F32(1.781477937), F32(-1.821255978), \
    F32(1.330274429)
K0, RSQRT2PI = F32(0.2316419), F32(0.3989422804014327)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


@functools.cache  # asked on every launch: keep it off the per-call overhead
def max_blocks() -> int:
    """Enough blocks of a grid-stride kernel to fill every multiprocessor a few times over."""
    if SIMULATED:
        return 4
    return 32 * cuda.get_current_device().MULTIPROCESSOR_COUNT


def grid(n: int) -> int:
    """Blocks for a grid-stride loop over n items (at least one: a launch needs a block)."""
    return max(1, min(cdiv(n, BLOCK), max_blocks()))


# -- block-level building blocks ---------------------------------------------------------------
@cuda.jit(device=True)
def block_sum(shared, value):
    """The sum of `value` over the block's threads, returned to all of them. A tree in shared
    memory; the closing barrier lets the caller reuse `shared` at once."""
    tid = cuda.threadIdx.x
    shared[tid] = value
    cuda.syncthreads()
    step = BLOCK // 2
    while step > 0:
        if tid < step:
            shared[tid] += shared[tid + step]
        cuda.syncthreads()
        step //= 2
    total = shared[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def block_max(shared, value):
    """The maximum of `value` over the block's threads, as block_sum."""
    tid = cuda.threadIdx.x
    shared[tid] = value
    cuda.syncthreads()
    step = BLOCK // 2
    while step > 0:
        if tid < step:
            shared[tid] = max(shared[tid], shared[tid + step])
        cuda.syncthreads()
        step //= 2
    top = shared[0]
    cuda.syncthreads()
    return top


@cuda.jit(device=True)
def block_scan(shared, value):
    """Inclusive prefix sum of `value` over the block's threads (Hillis-Steele: log2(BLOCK)
    steps, each reading its neighbour before anyone overwrites it)."""
    tid = cuda.threadIdx.x
    shared[tid] = value
    cuda.syncthreads()
    step = 1
    while step < BLOCK:
        neighbour = shared[tid - step] if tid >= step else shared[tid]
        cuda.syncthreads()
        if tid >= step:
            shared[tid] += neighbour
        cuda.syncthreads()
        step *= 2
    prefix = shared[tid]
    cuda.syncthreads()
    return prefix


# -- maps ----------------------------------------------------------------------------------------
@cuda.jit
def triad(a, x, y, out):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y):
    out = cuda.device_array_like(x)
    triad[grid(x.shape[0]), BLOCK](a, x, y, out)
    return out


def saxpy_into(a, x, y, out):
    triad[grid(x.shape[0]), BLOCK](a, x, y, out)
    return out


@cuda.jit(device=True)
def cnd(d):
    k = ONE / (ONE + K0 * abs(d))
    poly = k * (A1 + k * (A2 + k * (A3 + k * (A4 + k * A5))))
    tail = RSQRT2PI * math.exp(-HALF * d * d) * poly
    return ONE - tail if d > 0 else tail


@cuda.jit
def black_scholes_kernel(price, strike, years, r, v, call, put):
    for i in range(cuda.grid(1), price.shape[0], cuda.gridsize(1)):
        s, x, t = price[i], strike[i], years[i]
        sqrt_t = math.sqrt(t)
        d1 = (math.log(s / x) + (r + HALF * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        discounted = x * math.exp(-r * t)
        c1, c2 = cnd(d1), cnd(d2)
        call[i] = s * c1 - discounted * c2
        put[i] = discounted * (ONE - c2) - s * (ONE - c1)


def black_scholes(price, strike, years, r, v):
    call, put = cuda.device_array_like(price), cuda.device_array_like(price)
    black_scholes_kernel[grid(price.shape[0]), BLOCK](price, strike, years, r, v, call, put)
    return call, put


@cuda.jit
def gather_kernel(x, idx, out):
    for i in range(cuda.grid(1), idx.shape[0], cuda.gridsize(1)):
        out[i] = x[idx[i]]


def gather(x, idx):
    out = cuda.device_array(idx.shape[0], x.dtype)
    gather_kernel[grid(idx.shape[0]), BLOCK](x, idx, out)
    return out


@cuda.jit
def scatter_add_kernel(out, idx, values):
    for i in range(cuda.grid(1), idx.shape[0], cuda.gridsize(1)):
        cuda.atomic.add(out, idx[i], values[i])


def scatter_add(dest, idx, values):
    out = cuda.device_array_like(dest)
    out.copy_to_device(dest)
    scatter_add_kernel[grid(idx.shape[0]), BLOCK](out, idx, values)
    return out


@cuda.jit
def permute_kernel(x, idx, out):
    for i in range(cuda.grid(1), idx.shape[0], cuda.gridsize(1)):
        out[idx[i]] = x[i]


def permute(x, idx):
    out = cuda.device_array_like(x)  # idx is a permutation: every element is written
    permute_kernel[grid(x.shape[0]), BLOCK](x, idx, out)
    return out


@cuda.jit
def mandelbrot_kernel(cr, ci, limit, out):
    for p in range(cuda.grid(1), cr.shape[0], cuda.gridsize(1)):
        c_r, c_i = cr[p], ci[p]
        zr, zi = ZERO, ZERO
        k = 0
        while k < limit and zr * zr + zi * zi <= FOUR:
            zr, zi = zr * zr - zi * zi + c_r, TWO * zr * zi + c_i
            k += 1
        out[p] = k


def mandelbrot(cr, ci, limit):
    out = cuda.device_array(cr.shape[0], np.int64)
    mandelbrot_kernel[grid(cr.shape[0]), BLOCK](cr, ci, limit, out)
    return out


# -- reductions: per-block partials, then one block folds them ------------------------------------
@cuda.jit
def sum_partials(x, partials):
    shared = cuda.shared.array(BLOCK, numba.float32)
    acc = ZERO
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        acc += x[i]
    total = block_sum(shared, acc)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total


@cuda.jit
def dot_partials(x, y, partials):
    shared = cuda.shared.array(BLOCK, numba.float32)
    acc = ZERO
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        acc += x[i] * y[i]
    total = block_sum(shared, acc)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total


@cuda.jit
def squares_partials(x, partials):
    shared = cuda.shared.array(BLOCK, numba.float32)
    acc = ZERO
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        acc += x[i] * x[i]
    total = block_sum(shared, acc)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = total


def reduce_sum(first_pass, *arrays) -> np.float32:
    """Two passes: `first_pass` leaves one partial per block, one block sums the partials.
    The result comes back to the host, as a NumPy or CuPy user's scalar does."""
    blocks = grid(arrays[0].shape[0])
    partials = cuda.device_array(blocks, np.float32)
    first_pass[blocks, BLOCK](*arrays, partials)
    result = cuda.device_array(1, np.float32)
    sum_partials[1, BLOCK](partials, result)
    return result.copy_to_host()[0]


def sum_of(x):
    return reduce_sum(sum_partials, x)


def dot(x, y):
    return reduce_sum(dot_partials, x, y)


def nrm2(x):
    return F32(math.sqrt(reduce_sum(squares_partials, x)))


# -- scan: reduce-then-scan over tiles of BLOCK elements -------------------------------------------
def scan_kernels(dtype):
    """The two tile kernels of an inclusive scan of `dtype` (shared arrays need the type)."""
    @cuda.jit
    def tile_totals(x, totals):
        shared = cuda.shared.array(BLOCK, dtype)
        i = cuda.grid(1)
        value = x[i] if i < x.shape[0] else x[0] - x[0]
        total = block_sum(shared, value)
        if cuda.threadIdx.x == 0:
            totals[cuda.blockIdx.x] = total

    @cuda.jit
    def scan_tiles(x, carry, out):
        shared = cuda.shared.array(BLOCK, dtype)
        i = cuda.grid(1)
        value = x[i] if i < x.shape[0] else x[0] - x[0]
        prefix = block_scan(shared, value)
        if cuda.blockIdx.x > 0:
            prefix += carry[cuda.blockIdx.x - 1]
        if i < x.shape[0]:
            out[i] = prefix
    return tile_totals, scan_tiles


SCAN = {np.dtype(np.float32): scan_kernels(numba.float32),
        np.dtype(np.int32): scan_kernels(numba.int32)}


def inclusive_scan(x):
    return inclusive_scan_into(x, cuda.device_array(x.shape[0], x.dtype))


def inclusive_scan_into(x, out):
    """Tile totals, their inclusive scan (recursively), then every tile with its carry-in:
    x is read twice and the output written once."""
    n = x.shape[0]
    if n == 0:
        return out
    tile_totals, scan_tiles = SCAN[np.dtype(x.dtype)]
    tiles = cdiv(n, BLOCK)
    carry = out  # never read when there is one tile
    if tiles > 1:
        totals = cuda.device_array(tiles, x.dtype)
        tile_totals[tiles, BLOCK](x, totals)
        carry = inclusive_scan(totals)
    scan_tiles[tiles, BLOCK](x, carry, out)
    return out


# -- filter: count per tile, scan the counts, write each tile's kept elements in order -------------
@cuda.jit
def count_positive(x, counts):
    shared = cuda.shared.array(BLOCK, numba.int32)
    i = cuda.grid(1)
    kept = numba.int32(1) if i < x.shape[0] and x[i] > 0 else numba.int32(0)
    count = block_sum(shared, kept)
    if cuda.threadIdx.x == 0:
        counts[cuda.blockIdx.x] = count


@cuda.jit
def write_positive(x, ends, out):
    shared = cuda.shared.array(BLOCK, numba.int32)
    i = cuda.grid(1)
    kept = numba.int32(1) if i < x.shape[0] and x[i] > 0 else numba.int32(0)
    at = block_scan(shared, kept) - kept
    if cuda.blockIdx.x > 0:
        at += ends[cuda.blockIdx.x - 1]
    if kept:
        out[at] = x[i]


def positives(x):
    n = x.shape[0]
    if n == 0:
        return cuda.device_array(0, x.dtype)
    tiles = cdiv(n, BLOCK)
    counts = cuda.device_array(tiles, np.int32)
    count_positive[tiles, BLOCK](x, counts)
    ends = inclusive_scan(counts)
    out = cuda.device_array(int(ends[tiles - 1:].copy_to_host()[0]), x.dtype)
    write_positive[tiles, BLOCK](x, ends, out)
    return out


# -- sort: a bitonic network over a power-of-two copy padded with the largest value --------------
@cuda.jit
def pad_copy(x, padded, fill):
    for i in range(cuda.grid(1), padded.shape[0], cuda.gridsize(1)):
        padded[i] = x[i] if i < x.shape[0] else fill


@cuda.jit
def bitonic_step(a, j, k):
    """One compare-exchange stage: each pair (i, i ^ j) once, ascending where i & k == 0."""
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        partner = i ^ j
        if partner > i:
            ascending = (i & k) == 0
            if (a[i] > a[partner]) == ascending:
                a[i], a[partner] = a[partner], a[i]


def sort(x):
    n = x.shape[0]
    size = 1 << max(n - 1, 0).bit_length()
    fill = np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max
    padded = cuda.device_array(size, x.dtype)
    blocks = grid(size)
    pad_copy[blocks, BLOCK](x, padded, x.dtype.type(fill))
    k = 2
    while k <= size:
        j = k // 2
        while j > 0:
            bitonic_step[blocks, BLOCK](padded, j, k)
            j //= 2
        k *= 2
    return padded[:n]


# -- rows: CSR SpMV (a thread per row) and softmax (a block per row) ------------------------------
@cuda.jit
def spmv_kernel(values, columns, offsets, x, y):
    for row in range(cuda.grid(1), y.shape[0], cuda.gridsize(1)):
        s = ZERO
        for k in range(offsets[row], offsets[row + 1]):
            s += values[k] * x[columns[k]]
        y[row] = s


def spmv(values, columns, offsets, x):
    y = cuda.device_array(offsets.shape[0] - 1, np.float32)
    spmv_kernel[grid(y.shape[0]), BLOCK](values, columns, offsets, x, y)
    return y


@cuda.jit
def softmax_kernel(m, out):
    shared = cuda.shared.array(BLOCK, numba.float32)
    tid, cols = cuda.threadIdx.x, m.shape[1]
    for row in range(cuda.blockIdx.x, m.shape[0], cuda.gridDim.x):
        top = m[row, 0]
        for j in range(tid, cols, BLOCK):
            top = max(top, m[row, j])
        top = block_max(shared, top)
        s = ZERO
        for j in range(tid, cols, BLOCK):
            s += math.exp(m[row, j] - top)
        s = block_sum(shared, s)
        for j in range(tid, cols, BLOCK):  # the row is in cache: recompute exp, do not reload
            out[row, j] = math.exp(m[row, j] - top) / s


def softmax(m):
    out = cuda.device_array_like(m)
    blocks = max(1, min(m.shape[0], max_blocks()))
    softmax_kernel[blocks, BLOCK](m, out)
    return out


@cuda.jit
def column_sums_kernel(m, start, out):
    # a thread per column: neighbouring threads read neighbouring columns
    for j in range(cuda.grid(1), m.shape[1], cuda.gridsize(1)):
        s = start[j]
        for i in range(m.shape[0]):
            s += m[i, j]
        out[j] = s


def column_sums(m, start):
    out = cuda.device_array(m.shape[1], m.dtype)
    column_sums_kernel[grid(m.shape[1]), BLOCK](m, start, out)
    return out
