"""`sort(cmp_lt, xs)` and `sort(cmp_gt, xs)` of numbers on the GPU: a stable least-significant
digit radix sort, eight bits a pass.

Every element gets an unsigned key that orders as the numbers do under the comparison:
unsigned integers as they are, signed ones with the sign bit flipped, floats with the
sign bit flipped (positives) or every bit flipped (negatives), every NaN the largest key
and both zeros the key of +0 (they compare equal, so a stable sort keeps their order);
descending flips every bit of the key. Integer keys map back to their numbers, so only the
keys move; float keys lose the NaN payloads and the sign of zero, so the floats move too.

The passes (one per byte of the numbers, lowest first) share their counting:

1. one histogram kernel reads the keys once and counts every byte of every key: 256
   counters per pass, kept per block in shared memory and added atomically into a global
   [passes][256] array;
2. one block scans each pass's 256 counts into the first output position of each digit;
3. per pass, one placement kernel over tiles of BLOCK * RUN keys (sort_place.py): a tile
   ranks its keys by digit in shared memory, finds how many keys of each digit the tiles
   before it hold by decoupled look-back, and writes each key to its place.

A pass whose digit is the same for every key (one counter holds n: small integers' high
bytes, integral floats' low ones) would leave the keys where they are, so it is skipped.

Memory traffic against the four-bit sort this replaces, which counted and placed a digit
per pass (read keys to count, read counts to scan, read keys and write keys to place): eight
bit digits halve the passes, and the counting of all passes takes one read of the keys
instead of one per pass, so a 32-bit key is read 1 + 4 x 1 times and written 4 times where
it was read 8 x 2 and written 8 times. The look-back adds 256 counters written twice per
tile (an aggregate and an inclusive prefix) and read mostly from the tile just before, small
beside a tile's keys (2048 keys on a GPU).
"""

from __future__ import annotations

import numpy as np
from numba import cuda, int32, int64

from .lib import BLOCK, blocks, copy, empty
from .sort_place import DIGIT_BITS, DIGITS, TILE, place

MAX_PASSES = 8  # (64-bit numbers)


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
    _keys[blocks(n), BLOCK](xs, xs.view(f"u{xs.dtype.itemsize}"), keys, values, top, mask,
                            floats, signed, descending)
    keys, values = radix_passes(keys, values, width // DIGIT_BITS, floats)
    if floats:
        return values
    out = empty((n,), xs.dtype)
    _numbers[blocks(n), BLOCK](keys, out.view(f"u{xs.dtype.itemsize}"), top, mask, signed,
                               descending)
    return out


def radix_passes(keys, values, passes: int, move_values: bool):
    """keys (and values) stably sorted by the keys' low `passes` bytes; the arrays passed in
    serve as scratch."""
    n, kind = keys.shape[0], keys.dtype.type
    counts = cuda.to_device(np.zeros((passes, DIGITS), np.int64))
    _histogram[blocks(n), BLOCK](keys, counts, kind(DIGIT_BITS), kind(DIGITS - 1))
    starts = empty((passes, DIGITS), np.int64)
    _digit_starts[1, BLOCK](counts, starts)
    varying = [p for p, row in enumerate(counts.copy_to_host()) if row.max() < n]
    if not varying:
        return keys, values
    tiles = -(-n // TILE)
    sums, prefixes = empty((tiles * DIGITS,), np.int32), empty((tiles * DIGITS,), np.int64)
    keys_to = empty((n,), keys.dtype)
    values_to = empty((n,), values.dtype) if move_values else values
    for p in varying:
        place(keys, values, keys_to, values_to, DIGIT_BITS * p, starts[p], sums,
              prefixes, move_values)
        keys, keys_to = keys_to, keys
        if move_values:
            values, values_to = values_to, values
    return keys, values


@cuda.jit
def _keys(xs, bits, keys, values, top, mask, floats, signed, descending):
    """Each element's key and, for floats, a copy of it to move (xs itself is left alone)."""
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
        keys[i] = (~k & mask) if descending else k


@cuda.jit
def _numbers(keys, bits, top, mask, signed, descending):
    """The integers back from their keys (the inverse of `_keys`)."""
    for i in range(cuda.grid(1), keys.shape[0], cuda.gridsize(1)):
        k = keys[i]
        if descending:
            k = ~k & mask
        bits[i] = (k ^ top) if signed else k


@cuda.jit
def _histogram(keys, counts, bits, digit):
    """counts[p, d] += the keys whose byte p is d. A block counts in shared memory first, so
    the global counters see one atomic add per block and digit, not one per key."""
    seen = cuda.shared.array((MAX_PASSES, DIGITS), int32)
    t, passes = cuda.threadIdx.x, counts.shape[0]
    for c in range(t, MAX_PASSES * DIGITS, BLOCK):
        seen[c // DIGITS, c % DIGITS] = 0
    cuda.syncthreads()
    for i in range(cuda.grid(1), keys.shape[0], cuda.gridsize(1)):
        k = keys[i]
        for p in range(passes):
            cuda.atomic.add(seen, (p, int64(k & digit)), 1)
            k >>= bits
    cuda.syncthreads()
    for c in range(t, passes * DIGITS, BLOCK):
        p, d = c // DIGITS, c % DIGITS
        if seen[p, d]:
            cuda.atomic.add(counts, (p, d), int64(seen[p, d]))


@cuda.jit
def _digit_starts(counts, starts):
    """starts[p] = the exclusive prefix sums of counts[p]: a thread per pass (256 adds)."""
    for p in range(cuda.threadIdx.x, counts.shape[0], BLOCK):
        at = int64(0)
        for d in range(DIGITS):
            starts[p, d] = at
            at += counts[p, d]
