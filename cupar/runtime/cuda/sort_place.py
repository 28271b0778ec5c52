"""One pass of the radix sort of numbers (sort.py): each key to its place by its byte at
`shift`, in one kernel over tiles of BLOCK * RUN keys.

A key's place is its digit's first position (from the histogram of all passes), plus the
keys of its digit in earlier tiles, plus those before it in its own tile. A block

1. takes the next tile number from an atomic counter (rt.ticket), not its block index, so
   the blocks holding the tiles before it started first: it never waits on a block that
   has not started (the single-pass scan, scan.py, takes its tiles the same way);
2. loads the tile's keys into shared memory and counts its 256 digits, and publishes the
   counts with the flag AGGREGATE (the first tile has nothing before it and skips this);
3. ranks the keys by digit, stably: two splits of the tile's positions, by the digit's low
   four bits, then its high four, each a round of BLOCK keys at a time placed after those
   of its nibble in earlier rounds and lower threads (a scan over the threads of sixteen
   16-bit counters packed four to a 64-bit word). Ranking before looking back gives the
   earlier tiles time to finish;
4. looks back: each thread, for its digits, walks the tiles before it, nearest first,
   adding what each published, until a tile that published its inclusive prefix; then
   publishes its own inclusive prefix with the flag INCLUSIVE;
5. writes the keys in rank order, so a digit's keys go out to consecutive addresses.

Counts are stored, then a memory fence, then their flag; a reader reads the flag
atomically, then a fence, then the counts from L2 (rt.load_cg). Flags are numbers of the
launch's epoch (rt.scan_flags, shared with the scans), so no launch zeroes them. Under
Numba's simulator a launch's blocks run one after another, so the look-back there finds the
tile before it finished; a test publishes only aggregates by hand to walk further.
"""

from __future__ import annotations

from numba import cuda, int16, int32, int64, uint64

from . import lib as rt
from .lib import BLOCK, RUN
from .scan import AGGREGATE, INCLUSIVE

TILE = BLOCK * RUN
DIGIT_BITS = 8
DIGITS = 1 << DIGIT_BITS
NIBBLE = 16  # the values of half a digit: the rank splits by one half, then the other
RANKS, LOW_RANKS = DIGITS + 1, NIBBLE + 1  # (shared arrays' sizes: constants, not sums)
STEPS = BLOCK.bit_length() - 1  # of the scan over a block's threads
assert BLOCK == 1 << STEPS, "the scan over a block's threads needs a power of 2"
assert TILE < 1 << 15, "a tile's positions are int16"


def place(keys, values, keys_to, values_to, shift, starts, sums, prefixes, move_values):
    """keys_to (and values_to) = keys (values) stably ordered by the byte at `shift`;
    starts: each digit's first position; sums, prefixes: 256 counts per tile (scratch)."""
    tiles, kind = -(-keys.shape[0] // TILE), keys.dtype.type
    flags, epoch = rt.scan_flags(tiles)
    # (shifts and masks in the keys' type: NumPy's rules would make a uint64 and an int64 a
    # float64)
    _place[tiles, BLOCK](keys, values, keys_to, values_to, kind(shift),
                         kind(shift + DIGIT_BITS // 2), kind(DIGITS - 1), kind(NIBBLE - 1),
                         starts, sums, prefixes, flags, epoch, rt.ticket(), move_values)


@cuda.jit
def _place(keys, values, keys_to, values_to, shift, high, digit, nibble, starts, sums,
           prefixes, flags, epoch, count, move_values):
    key_sh = cuda.shared.array(TILE, keys.dtype)  # (uint32 or uint64)
    order = cuda.shared.array((2, TILE), int16)  # tile positions, ranked by one split each
    hist = cuda.shared.array(DIGITS, int32)  # the tile's count of each digit
    first = cuda.shared.array(RANKS, int32)  # its first rank (the last: the tile's size)
    base = cuda.shared.array(DIGITS, int64)  # its first output position less `first`
    packed = cuda.shared.array((2, 4, BLOCK), uint64)  # the splits' counters (two buffers)
    placed = cuda.shared.array((2, NIBBLE), int32)  # a split's keys placed before a round
    low = cuda.shared.array(LOW_RANKS, int32)  # the first rank of each low nibble
    got = cuda.shared.array(1, int32)
    t, n = cuda.threadIdx.x, keys.shape[0]
    if t == 0:
        tile_of = cuda.atomic.add(count, 0, 1)
        if tile_of == (n - 1) // TILE:  # the last tile: the counter back to 0 for the next
            count[0] = 0
        got[0] = tile_of
    for d in range(t, DIGITS, BLOCK):
        hist[d] = 0
    cuda.syncthreads()
    tile = int64(got[0])
    lo = tile * TILE
    m = min(TILE, n - lo)
    for p in range(t, m, BLOCK):
        k = keys[lo + p]
        key_sh[p] = k
        order[0, p] = p
        cuda.atomic.add(hist, int64((k >> shift) & digit), 1)
    cuda.syncthreads()
    flag = 2 * epoch
    if tile > 0:
        _publish(sums, hist, tile, flags, int32(flag + AGGREGATE), t)
    _firsts(hist, first, low, t)
    _split(key_sh, order, 0, shift, nibble, low, 1, m, packed, placed)
    _split(key_sh, order, 1, high, nibble, first, NIBBLE, m, packed, placed)
    _look_back(sums, prefixes, flags, flag, tile, base, t)
    for d in range(t, DIGITS, BLOCK):
        prefixes[tile * DIGITS + d] = base[d] + hist[d]
    cuda.threadfence()  # (every thread's counts are seen before the flag)
    cuda.syncthreads()
    if t == 0:
        cuda.atomic.exch(flags, tile, int32(flag + INCLUSIVE))
    for d in range(t, DIGITS, BLOCK):
        base[d] += starts[d] - first[d]
    cuda.syncthreads()
    for r in range(t, m, BLOCK):
        p = int64(order[0, r])
        k = key_sh[p]
        at = base[int64((k >> shift) & digit)] + r
        keys_to[at] = k
        if move_values:
            values_to[at] = values[lo + p]


@cuda.jit(device=True)
def _publish(sums, hist, tile, flags, flag, t):
    for d in range(t, DIGITS, BLOCK):
        sums[tile * DIGITS + d] = hist[d]
    cuda.threadfence()
    cuda.syncthreads()
    if t == 0:
        cuda.atomic.exch(flags, tile, flag)


@cuda.jit(device=True)
def _firsts(hist, first, low, t):
    """first: the exclusive scan of the tile's digit counts; low: of its low nibbles'. Thread
    0 adds up 256 counts: a tile's small share of its work (a round of a split is more)."""
    for e in range(t, NIBBLE, BLOCK):
        c = 0
        for h in range(NIBBLE):
            c += hist[h * NIBBLE + e]
        low[e + 1] = c
    cuda.syncthreads()
    if t == 0:
        low[0], first[0] = 0, 0
        for e in range(NIBBLE):
            low[e + 1] += low[e]
        for d in range(DIGITS):
            first[d + 1] = first[d] + hist[d]
    cuda.syncthreads()


@cuda.jit(device=True)
def _split(key_sh, order, src, shift, nibble, starts, stride, m, packed, placed):
    """order[1 - src] = order[src] stably split by the nibble at `shift`: nibble e's
    positions from starts[e * stride] on, in order[src]'s order."""
    t, dst = cuda.threadIdx.x, 1 - src
    for e in range(t, NIBBLE, BLOCK):
        placed[0, e] = 0
    for r in range(RUN):
        if STEPS % 2 == 0:  # the last round's result is in buffer 0: wait for its readers
            cuda.syncthreads()
        i = r * BLOCK + t
        e, p = int64(NIBBLE), int16(0)  # (e: none, past the end)
        for w in range(4):
            packed[0, w, t] = 0
        if i < m:
            p = order[src, i]
            e = int64((key_sh[p] >> shift) & nibble)
            packed[0, e >> 2, t] = uint64(1) << uint64(16 * (e & 3))
        cuda.syncthreads()
        for s in range(STEPS):  # an inclusive scan of the counters over the threads
            step, a, b = 1 << s, s % 2, 1 - s % 2
            for w in range(4):
                before = packed[a, w, t - step] if t >= step else uint64(0)
                packed[b, w, t] = packed[a, w, t] + before
            cuda.syncthreads()
        done, now = STEPS % 2, r % 2
        if e < NIBBLE:
            rank = int64((packed[done, e >> 2, t] >> uint64(16 * (e & 3))) & uint64(0xFFFF))
            order[dst, starts[e * stride] + placed[now, e] + rank - 1] = p
        for f in range(t, NIBBLE, BLOCK):  # the round's counts: the last thread's counters
            last = packed[done, f >> 2, BLOCK - 1] >> uint64(16 * (f & 3))
            placed[1 - now, f] = placed[now, f] + int32(last & uint64(0xFFFF))
    cuda.syncthreads()  # (order[dst] is complete; the buffers free for the next split)


@cuda.jit(device=True)
def _look_back(sums, prefixes, flags, flag, tile, base, t):
    """base[d] = the keys of digit d in the tiles before this one, for this thread's d."""
    for d in range(t, DIGITS, BLOCK):
        base[d] = 0
    j = tile - 1
    while j >= 0:
        f = cuda.atomic.add(flags, j, 0)  # (read, never a stale copy)
        if f <= flag:
            continue  # tile j has published nothing in this launch yet: wait
        cuda.threadfence()  # the counts are read after their flag
        if f == flag + INCLUSIVE:
            for d in range(t, DIGITS, BLOCK):
                base[d] += rt.load_cg(prefixes, j * DIGITS + d)
            break
        for d in range(t, DIGITS, BLOCK):
            base[d] += rt.load_cg(sums, j * DIGITS + d)
        j -= 1
