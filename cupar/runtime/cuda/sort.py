"""`sort(cmp_lt, xs)` and `sort(cmp_gt, xs)` of numbers on the GPU: a stable least-significant
digit radix sort, four bits a pass, each pass built on a scan of digit counts.

Every element gets an unsigned key that orders as the numbers do under the comparison:
unsigned integers as they are, signed ones with the sign bit flipped, floats with the
sign bit flipped (positives) or every bit flipped (negatives), every NaN the largest key
and both zeros the key of +0 (they compare equal, so a stable sort keeps their order);
descending flips every bit of the key. Integer keys map back to their numbers, so only the
keys move; float keys lose the NaN payloads and the sign of zero, so the floats move too.

A pass over tiles of BLOCK * RUN elements: (1) each tile counts its digits; (2) one block
scans the counts, digit-major, into each (digit, tile)'s first output position; (3) each
tile places its elements round by round, BLOCK at a time, an element after the elements of
its digit in earlier tiles, earlier rounds and lower threads. The last count is a scan over
threads of 16 digit counters packed four to a 64-bit word.
"""

from __future__ import annotations

import numpy as np
from numba import cuda, int32, int64, uint64

from .lib import BLOCK, RUN, blocks, copy, empty

TILE = BLOCK * RUN
DIGIT_BITS = 4
DIGITS = 1 << DIGIT_BITS


def sort_numbers(xs, descending: bool):
    """A sorted device copy of xs: stable, NaN last (first when descending)."""
    n = xs.shape[0]
    if n < 2:
        return copy(xs)
    xs = xs if xs.is_c_contiguous() else copy(xs)
    width = xs.dtype.itemsize * 8
    kind = np.uint32 if width <= 32 else np.uint64
    top, mask = kind(1 << (width - 1)), kind((1 << width) - 1)
    floats, signed = xs.dtype.kind == "f", xs.dtype.kind == "i"
    keys = empty((n,), kind)
    values = empty((n,), xs.dtype) if floats else keys[:1]  # (integers move only their keys)
    ends = cuda.to_device(np.array([0, mask], kind))  # the keys' bits: OR, AND
    _keys[blocks(n), BLOCK](xs, xs.view(f"u{xs.dtype.itemsize}"), keys, values, ends, top,
                            mask, floats, signed, descending)
    either, both = (int(v) for v in ends.copy_to_host())
    keys, values = radix_passes(keys, values, either ^ both, floats)
    if floats:
        return values
    out = empty((n,), xs.dtype)
    _numbers[blocks(n), BLOCK](keys, out.view(f"u{xs.dtype.itemsize}"), top, mask, signed,
                               descending)
    return out


def radix_passes(keys, values, varying: int, move_values: bool):
    """keys (and values) stably sorted by the keys; the arrays passed in serve as scratch.
    A digit is skipped where no key bit varies (`varying`): all keys share it, and a stable
    pass would leave them as they are. Small integers and integral floats skip most."""
    n, kind = keys.shape[0], keys.dtype.type
    tiles = -(-n // TILE)
    counts, starts = empty((DIGITS * tiles,), np.int32), empty((DIGITS * tiles,), np.int64)
    keys_to = empty((n,), keys.dtype)
    values_to = empty((n,), values.dtype) if move_values else values
    digit = kind(DIGITS - 1)
    for shift in range(0, keys.dtype.itemsize * 8, DIGIT_BITS):
        if not (varying >> shift) & (DIGITS - 1):
            continue
        _count_digits[tiles, BLOCK](keys, kind(shift), digit, counts)
        _scan_counts[1, BLOCK](counts, starts)
        _place[tiles, BLOCK](keys, values, keys_to, values_to, kind(shift), digit, starts,
                             move_values)
        keys, keys_to = keys_to, keys
        if move_values:
            values, values_to = values_to, values
    return keys, values


@cuda.jit
def _keys(xs, bits, keys, values, ends, top, mask, floats, signed, descending):
    """Each element's key and, for floats, a copy of it to move (xs itself is left alone);
    ends[0] |= every key, ends[1] &= every key, through the block's shared pair."""
    block_ends = cuda.shared.array(2, ends.dtype)  # (the type of `ends`: uint32 or uint64)
    if cuda.threadIdx.x == 0:
        block_ends[0], block_ends[1] = ends[0], ends[1]
    cuda.syncthreads()
    either, both = ends[0], ends[1]
    for i in range(cuda.grid(1), xs.shape[0], cuda.gridsize(1)):
        b = bits[i]
        if floats:
            x = xs[i]
            values[i] = x
            if x != x:
                k = mask
            elif x == 0:
                k = top
            elif b & top:
                k = ~b & mask
            else:
                k = b | top
        elif signed:
            k = b ^ top
        else:
            k = b
        k = (~k & mask) if descending else k
        keys[i] = k
        either |= k
        both &= k
    cuda.atomic.or_(block_ends, 0, either)
    cuda.atomic.and_(block_ends, 1, both)
    cuda.syncthreads()
    if cuda.threadIdx.x == 0:
        cuda.atomic.or_(ends, 0, block_ends[0])
        cuda.atomic.and_(ends, 1, block_ends[1])


@cuda.jit
def _numbers(keys, bits, top, mask, signed, descending):
    """The integers back from their keys (the inverse of `_keys`)."""
    for i in range(cuda.grid(1), keys.shape[0], cuda.gridsize(1)):
        k = keys[i]
        if descending:
            k = ~k & mask
        bits[i] = (k ^ top) if signed else k


@cuda.jit
def _count_digits(keys, shift, digit, counts):
    """counts[d * tiles + tile]: the elements of this tile whose digit is d."""
    seen = cuda.shared.array(DIGITS, int32)
    t, tile, tiles = cuda.threadIdx.x, cuda.blockIdx.x, cuda.gridDim.x
    for d in range(t, DIGITS, BLOCK):
        seen[d] = 0
    cuda.syncthreads()
    for r in range(RUN):
        i = tile * TILE + r * BLOCK + t
        if i < keys.shape[0]:
            cuda.atomic.add(seen, np.int64((keys[i] >> shift) & digit), 1)
    cuda.syncthreads()
    for d in range(t, DIGITS, BLOCK):
        counts[d * tiles + tile] = seen[d]


@cuda.jit
def _scan_counts(counts, starts):
    """starts = the exclusive prefix sums of counts, by one block: each thread a run."""
    total = cuda.shared.array(BLOCK, int64)
    t, m = cuda.threadIdx.x, counts.shape[0]
    per = (m + BLOCK - 1) // BLOCK
    lo, hi = min(t * per, m), min(t * per + per, m)
    mine = np.int64(0)
    for j in range(lo, hi):
        mine += counts[j]
    total[t] = mine
    cuda.syncthreads()
    step = 1
    while step < BLOCK:  # inclusive scan of the runs' totals
        before = total[t - step] if t >= step else np.int64(0)
        cuda.syncthreads()
        total[t] += before
        cuda.syncthreads()
        step *= 2
    at = total[t] - mine
    for j in range(lo, hi):
        starts[j] = at
        at += counts[j]


STEPS = BLOCK.bit_length() - 1  # of the scan over a block's threads
assert BLOCK == 1 << STEPS, "the scan over a block's threads needs a power of 2"


@cuda.jit
def _place(keys, values, keys_to, values_to, shift, digit, starts, move_values):
    # 16 counters of 16 bits per thread, in two buffers: a scan step reads one, writes the other
    packed = cuda.shared.array((2, 4, BLOCK), uint64)
    # this tile's elements placed before round r, per digit, in buffer r % 2 (the next round's
    # counts are written while this round's may still be read)
    placed = cuda.shared.array((2, DIGITS), int64)
    t, tile, tiles = cuda.threadIdx.x, cuda.blockIdx.x, cuda.gridDim.x
    for e in range(t, DIGITS, BLOCK):
        placed[0, e] = 0
    for r in range(RUN):
        if STEPS % 2 == 0:  # the last round's result is in buffer 0: wait for its readers
            cuda.syncthreads()
        i = tile * TILE + r * BLOCK + t
        d = np.int64(DIGITS)  # none: past the end
        for w in range(4):
            packed[0, w, t] = 0
        if i < keys.shape[0]:
            d = np.int64((keys[i] >> shift) & digit)
            packed[0, d >> 2, t] = uint64(1) << uint64(16 * (d & 3))
        cuda.syncthreads()
        for s in range(STEPS):  # an inclusive scan of the counters over the threads
            step, a, b = 1 << s, s % 2, 1 - s % 2
            for w in range(4):
                before = packed[a, w, t - step] if t >= step else uint64(0)
                packed[b, w, t] = packed[a, w, t] + before
            cuda.syncthreads()
        done, now = STEPS % 2, r % 2
        if d < DIGITS:
            field = uint64(16 * (d & 3))
            rank = np.int64((packed[done, d >> 2, t] >> field) & uint64(0xFFFF))
            at = starts[d * tiles + tile] + placed[now, d] + rank - 1
            keys_to[at] = keys[i]
            if move_values:
                values_to[at] = values[i]
        for e in range(t, DIGITS, BLOCK):  # the round's counts: the last thread's counters
            last = packed[done, e >> 2, BLOCK - 1] >> uint64(16 * (e & 3))
            placed[1 - now, e] = placed[now, e] + np.int64(last & uint64(0xFFFF))
