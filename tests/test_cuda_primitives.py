"""gpu0's single-pass scan (cuda/scan.py) and radix sort of numbers (cuda/sort.py) against
the interpreter and NumPy, at lengths around the edges of their tiles (BLOCK * RUN positions;
BLOCK threads and warps of WARP lanes under the simulator are small, so several of each take
part).

Run by `make test` under Numba's CUDA simulator, which runs a launch's blocks one after
another: a scan's or a sort pass's block there always finds the tile before it finished, so
one test of each sets up tiles as a GPU running blocks side by side may see them (only
aggregates published) and runs the kernel over the rest. Integer results must be exact;
float ones within a tolerance growing with the number of terms (the look-back associates the
tiles' values differently); sorts bit for bit.
"""

import inspect

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.runtime.cuda import lib as rt
from kernel_checks import bits, launched_kernels, stably_sorted
from strategies import assert_close

gpu, here = cupar.places.gpu0, cupar.places.here
pytestmark = pytest.mark.skipif(not gpu.available, reason=f"gpu0: {gpu.missing()}")
TILE = rt.BLOCK * rt.RUN
SCAN_LENGTHS = [0, 1, 2, TILE - 1, TILE, TILE + 1, 2 * TILE - 1, 2 * TILE + 1, 5 * TILE + 3]


@parallel
def scans(x):
    return scan(op_add, x), rscan(op_add, x), exclusive_scan(op_add, 1, x), \
        exclusive_rscan(maximum, min_bound_el(x), x)


@parallel
def affine_scans(a, b):
    """Composition of x -> a x + b: associative, not commutative, tuple-valued."""
    def then(f, g):
        return f[0] * g[0], f[1] * g[0] + g[1]
    pairs = zip(a, b)
    return scan(then, pairs), rscan(then, pairs), exclusive_scan(then, (1, 0), pairs)


@parallel
def flag_scans(x):
    return scan(lambda p, q: p or q, map(lambda v: v > 3, x))


def agree(fn, *args, terms: int = 1):
    assert_close(fn(*args, target_place=gpu), fn(*args, target_place=here), terms=terms)


@pytest.mark.parametrize("n", SCAN_LENGTHS)
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8"])
def test_integer_scans_are_exact(n, dtype):
    x = (np.arange(n) * 7 % 13 + 1).astype(dtype) % 3  # (uint8 sums stay below 256)
    agree(scans, x)


@pytest.mark.parametrize("n", SCAN_LENGTHS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_scans_agree_within_rounding(n, dtype):
    x = np.random.default_rng(n).random(n).astype(dtype)
    agree(scans, x, terms=max(n, 1))


@pytest.mark.parametrize("n", SCAN_LENGTHS)
def test_tuple_scans_keep_the_order(n):
    rng = np.random.default_rng(n)
    a, b = rng.choice([-1, 1], n), rng.integers(-5, 6, n)
    agree(affine_scans, a, b)
    agree(flag_scans, rng.integers(0, 5, n))


def test_a_scan_is_one_kernel_and_leaves_its_counter_at_zero():
    x = np.arange(3 * TILE, dtype=np.int64)
    compiled = gpu.compiled_or_reason(scans.stages_for(scans.argument_types((x,))))
    assert compiled.source.count("_scan") >= 4 and "_scantotals" not in compiled.source
    agree(scans, x)
    assert rt.ticket().copy_to_host()[0] == 0


def test_scans_read_only_their_own_flags(monkeypatch):
    """Flags stay from launch to launch; a buffer too short grows, and one whose epochs run
    out starts again from zeros."""
    monkeypatch.setattr(rt, "EPOCHS", 3)
    for n in (TILE + 1, 7 * TILE, 2 * TILE, 40 * TILE + 5, 3):
        agree(scans, np.arange(n, dtype=np.int64) % 9)


def scan_kernel(fn, *args):
    """The single-pass scan kernel of fn(*args) (under the simulator) and its parameters."""
    compiled = gpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    kernels = [v for k, v in compiled.entry.__globals__.items() if "_scan" in k]
    assert len(kernels) == 1
    return kernels[0], list(inspect.signature(kernels[0].fn).parameters)


@pytest.mark.skipif(not rt.SIMULATED, reason="launches the simulator's kernel by hand")
@pytest.mark.parametrize("ready", [1, 2, 5])
def test_look_back_walks_over_tiles_that_published_only_aggregates(ready):
    """Tile 0 published its inclusive prefix, tiles 1 .. ready - 1 only their aggregates (as
    a GPU may find them); blocks that take the tiles from `ready` on walk back over them."""
    @parallel
    def prefix(x):
        return scan(op_add, x)
    x = (np.arange(8 * TILE + 3) * 5 % 17).astype(np.int64)
    kernel, params = scan_kernel(prefix, x)
    tiles, epoch = rt.tiles(len(x)), 5
    sums = np.add.reduceat(x, np.arange(0, len(x), TILE))
    flags = np.zeros(tiles, np.int32)
    flags[0], flags[1:ready] = 2 * epoch + 2, 2 * epoch + 1
    out = np.zeros_like(x)
    unread = np.full(tiles, -10**6)  # (what the look-back must not read)
    agg, inc = np.where(np.arange(tiles) > 0, sums, unread), np.where(np.arange(tiles) == 0,
                                                                       sums, unread)
    given = {"_agg0": agg, "_inc0": inc, "_flags": flags, "_epoch": np.int64(epoch),
             "_count": np.array([ready], np.int32)}
    args = [next((v for k, v in given.items() if p.endswith(k)), None) for p in params]
    args = [out if p == params[0] else x if a is None else a for p, a in zip(params, args)]
    assert sum(a is x for a in args) == 1  # (the kernel's parameters are the ones above)
    kernel[tiles - ready, rt.BLOCK](*args)
    np.testing.assert_array_equal(out[ready * TILE:], np.cumsum(x)[ready * TILE:])


# -- a warp per row ----------------------------------------------------------------------------
ROW_LENGTHS = sorted({0, 1, rt.WARP - 1, rt.WARP, rt.WARP + 1, rt.ROWS_BY_WARP,
                      rt.ROWS_BY_WARP + 1, 3 * rt.WARP + 1, rt.ROWS_BY_BLOCK - 1,
                      rt.ROWS_BY_BLOCK, rt.ROWS_BY_BLOCK + 1})


@parallel
def row_folds(m, a):
    """Per row: a sum (commutative), an affine composition (not: the order shows), a keep-
    first argmax (ties keep the first) and an `any`."""
    def then(f, g):
        return f[0] * g[0], f[1] * g[0] + g[1]

    def row(r, q):
        best = reduce(lambda u, v: v if v[0] > u[0] else u, zip(r, indices(r)),
                      (min_bound_el(r), -1))
        return sum(r), reduce(then, zip(q, r), (1, 0)), best[1], any(map(lambda v: v > 3, r))
    return map(row, m, a)


@parallel
def segment_folds(values, signs, offsets):
    """CSR-like rows whose lengths only the rows know (as in SpMV)."""
    def then(f, g):
        return f[0] * g[0], f[1] * g[0] + g[1]

    def segment(lo, hi):
        at = bounded_range(lo, hi)
        return sum(gather(values, at)), reduce(then, zip(gather(signs, at), gather(values, at)),
                                               (1, 0))
    return map(lambda i: segment(offsets[i], offsets[i + 1]), range(len(offsets) - 1))


@pytest.fixture
def launched(monkeypatch):
    """The names of the kernels launched from now on (under the simulator)."""
    return launched_kernels(monkeypatch)


def kernel_for(length: int) -> str:
    return ("rows" if length >= rt.ROWS_BY_BLOCK else "warps" if length >= rt.ROWS_BY_WARP
            else "map")


@pytest.mark.skipif(not rt.SIMULATED, reason="counts launches through the simulator")
@pytest.mark.parametrize("length", ROW_LENGTHS)
@pytest.mark.parametrize("dtype", ["int64", "int8", "uint64", "float32", "float64"])
def test_row_folds_by_thread_warp_and_block_agree(launched, length, dtype):
    rng = np.random.default_rng(length)
    m = rng.integers(0, 6, (7, length)).astype(dtype)  # (ties for the argmax)
    a = rng.choice([0, 1] if dtype.startswith("u") else [-1, 1], (7, length)).astype(dtype)
    agree(row_folds, m, a, terms=max(length, 1))
    assert {n.split("_")[-1].rstrip("0123456789") for n in launched
            if n.startswith("row_folds_")} == {kernel_for(length)}


@pytest.mark.skipif(not rt.SIMULATED, reason="counts launches through the simulator")
@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_rows_whose_lengths_only_they_know_take_a_warp_each(launched, dtype):
    rng = np.random.default_rng(4)
    lengths = np.array([0, 1, 10, rt.WARP - 1, rt.WARP, rt.WARP + 1, 0, 3 * rt.WARP + 2, 9])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = rng.integers(-9, 10, offsets[-1]).astype(dtype)
    signs = rng.choice([-1, 1], offsets[-1]).astype(dtype)
    agree(segment_folds, values, signs, offsets, terms=int(lengths.max()))
    assert [n for n in launched if n.startswith("segment_folds_")] == ["segment_folds_warps1"]


@pytest.mark.parametrize("length", [rt.ROWS_BY_WARP + 2, rt.ROWS_BY_BLOCK + 2])
def test_a_failing_row_stops_its_team_not_the_others(length):
    """A bad gather index in one row is an error, not a hang, whichever kernel runs it."""
    @parallel
    def pick_rows(m, x):
        return map(lambda r: sum(gather(x, r)), m)
    m = np.zeros((5, length), np.int64)
    m[3, length - 1] = 99
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index 99"):
        pick_rows(m, np.arange(4.0), target_place=gpu)
    m[3, length - 1] = 1
    agree(pick_rows, m, np.arange(4.0))


@pytest.mark.parametrize("size", [0, 4])
def test_a_segment_reaching_past_its_values_is_an_error_not_a_hang(size):
    """(The failing lane leaves its share and meets its warp's shuffles; it reads nothing
    more, not even element 0 of an empty array.)"""
    values = np.arange(size, dtype=np.float32)
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index"):
        segment_folds(values, values, np.array([0, 2, 3 * rt.WARP + 1]), target_place=gpu)


@parallel
def gathered_sum(x, idx):
    return sum(gather(x, idx))


@parallel
def gathered_scan(x, idx):
    return scan(op_add, gather(x, idx))


@parallel
def gathered_filter(x, idx):
    return filter(lambda v: v > 0, gather(x, idx))


@pytest.mark.parametrize("fn", [gathered_sum, gathered_scan, gathered_filter],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [0, 3])
def test_a_failing_gather_in_a_kernel_with_barriers_reads_nothing_out_of_bounds(fn, n):
    """The failing element leaves its thread's walk (each thread still meets the barriers)
    instead of reading on at index 0, out of bounds of an empty array: the located error."""
    x, idx = np.arange(float(n)), np.array([0, n, 1, n + 5]) if n else np.array([0, 0])
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index"):
        fn(x, idx, target_place=gpu)


# -- the radix sort of numbers (cuda/sort.py, cuda/sort_place.py) -------------------------------
SORT_LENGTHS = [0, 1, 2, TILE - 1, TILE, TILE + 1, 2 * TILE + 1, 6 * TILE + 5]
INTEGERS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def numbers(dtype, n, seed=0):
    rng = np.random.default_rng(seed + n)
    if np.dtype(dtype).kind != "f":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    x = rng.standard_normal(n).astype(dtype)
    x[rng.random(n) < 0.2] = 0.0
    x[rng.random(n) < 0.2] *= -0.0  # (zeros of both signs, whose order a stable sort keeps)
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.05] = np.inf
    x[rng.random(n) < 0.05] = -np.inf
    return x


def device_sort(x, descending):
    from numba import cuda
    from cupar.runtime.cuda.sort import sort_numbers
    return sort_numbers(cuda.to_device(x), descending).copy_to_host()


@pytest.mark.parametrize("n", SORT_LENGTHS)
@pytest.mark.parametrize("dtype", INTEGERS + ["float32", "float64"])
def test_numbers_sort_stably_both_ways(n, dtype):
    x = numbers(dtype, n)
    for descending in (False, True):
        np.testing.assert_array_equal(bits(device_sort(x, descending)),
                                      bits(stably_sorted(x, descending)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_few_distinct_floats_keep_their_order_over_many_tiles(dtype):
    """Both zeros, NaN and two numbers over nine tiles: every digit's keys span tiles."""
    x = np.random.default_rng(3).choice([0.0, -0.0, 1.5, -2.0, np.nan], 9 * TILE + 3)
    x = x.astype(dtype)
    for descending in (False, True):
        np.testing.assert_array_equal(bits(device_sort(x, descending)),
                                      bits(stably_sorted(x, descending)))


@pytest.mark.skipif(not rt.SIMULATED, reason="counts launches through the simulator")
@pytest.mark.parametrize("x, passes", [
    (np.full(3 * TILE + 1, -7, np.int64), 0),  # every digit the same: nothing to do
    (np.full(2 * TILE, np.nan, np.float32), 0),
    (np.arange(3 * TILE, dtype=np.int32) % 200, 1),  # only the low byte varies
    (np.arange(3 * TILE, dtype=np.uint16) * 256, 1),  # only the high byte
    (np.arange(3 * TILE, dtype=np.int16) - TILE, 2)])  # (the sign flips the high byte)
def test_passes_whose_digit_never_varies_are_skipped(launched, x, passes):
    for descending in (False, True):
        launched.clear()
        np.testing.assert_array_equal(bits(device_sort(x, descending)),
                                      bits(stably_sorted(x, descending)))
        assert launched.count("_histogram") == 1 and launched.count("_place") == passes


def test_the_sort_leaves_its_counter_at_zero_and_agrees_with_here():
    @parallel
    def sorts(x):
        return sort(cmp_lt, x), sort(cmp_gt, x)
    floats = numbers("float32", 4 * TILE + 1)  # (NaN is no order: the interpreter's
    floats = floats[~np.isnan(floats)]           # answer depends on its merge order)
    for x in (floats, numbers("int64", 3 * TILE), numbers("uint8", 2 * TILE + 3)):
        got, want = sorts(x, target_place=gpu), sorts(x, target_place=here)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(bits(g), bits(w))
    assert rt.ticket().copy_to_host()[0] == 0


@pytest.mark.skipif(not rt.SIMULATED, reason="launches the simulator's kernel by hand")
@pytest.mark.parametrize("ready", [1, 2, 5])
def test_sort_look_back_walks_over_tiles_that_published_only_aggregates(ready):
    """One pass by the low byte. Tile 0 published its inclusive digit counts, tiles 1 ..
    ready - 1 only their aggregates (as a GPU may find them); blocks that take the tiles
    from `ready` on walk back over them and place their keys where the whole pass would."""
    from cupar.runtime.cuda import sort_place as sp
    keys = (np.arange(8 * TILE + 3) * 37 % 1000).astype(np.uint32)
    n, tiles, epoch = len(keys), -(-len(keys) // TILE), 5
    digit = (keys & 0xFF).astype(np.int64)
    counts = np.zeros((tiles, sp.DIGITS), np.int64)
    np.add.at(counts, (np.arange(n) // TILE, digit), 1)
    unread = np.full((tiles, sp.DIGITS), -10**6)  # (what the look-back must not read)
    inclusive = np.where(np.arange(tiles)[:, None] == 0, counts, unread)
    sums = np.where(np.arange(tiles)[:, None] > 0, counts, unread).astype(np.int32)
    flags = np.zeros(tiles, np.int32)
    flags[0], flags[1:ready] = 2 * epoch + 2, 2 * epoch + 1
    starts = np.concatenate([[0], np.cumsum(np.bincount(digit, minlength=sp.DIGITS))[:-1]])
    out = np.zeros(n, np.uint32)
    u = np.uint32
    sp._place[tiles - ready, rt.BLOCK](
        keys, keys[:1], out, out[:1], u(0), u(4), u(255), u(15), starts, sums.ravel(),
        inclusive.ravel(), flags, np.int64(epoch), np.array([ready], np.int32), False)
    order = np.argsort(digit, kind="stable")
    mine = order >= ready * TILE  # (the places of the keys of the tiles from `ready` on)
    np.testing.assert_array_equal(out[mine], keys[order][mine])
    assert (out[~mine] == 0).all() and (flags[ready:] == 2 * epoch + 2).all()
