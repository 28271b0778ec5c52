"""The gpu0 place itself: device residency, interop, availability, errors, kernel counts.

Run by `make test` under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), and on a real GPU
where there is one. (The differential tests run at gpu0 through CUPAR_COMPILED_PLACE.)
"""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupar
from cupar import *  # noqa: F403
from cupar.runtime.cuda.lib import BLOCK, ROWS_BY_BLOCK, ROWS_BY_WARP, SIMULATED
from cupar.runtime.cuda.device_array import DeviceArray
from kernel_checks import launched_kernels
from strategies import examples, matrices

gpu = cupar.places.gpu0
pytestmark = pytest.mark.skipif(not gpu.available, reason=f"gpu0: {gpu.missing()}")
X = np.arange(40, dtype=np.float32) - 10


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def nrm2(x):
    return sqrt(sum(map(lambda xi: xi * xi, x)))


@parallel
def stats(x):
    return sum(x), scan(op_add, x), filter(lambda v: v > 0, x), sort(cmp_gt, x)


@parallel
def softmax(m):
    def row(r):
        top = max(r)
        e = map(lambda v: exp(v - top), r)
        total = sum(e)
        return map(lambda v: v / total, e)
    return map(row, m)


@parallel
def pick(x, idx):
    return gather(x, idx)


@parallel
def row_stats(m, x):
    """Per row: a keep-first argmax (not commutative: ties must keep the first), a branch
    around reductions, and a checked gather of x at the row's values."""
    def row(r):
        best = reduce(lambda a, b: b if b[0] > a[0] else a, zip(r, indices(r)), (r[0], 0))
        either = sum(r) if r[0] > 0 else min(r)
        return best[1], either, sum(gather(x, map(lambda v: int64(v), r)))
    return map(row, m)


def test_results_stay_on_the_device_until_asked():
    r = axpy(np.float32(2), X, X, target_place=gpu)
    assert isinstance(r, DeviceArray) and r.shape == X.shape and r.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(r), 3 * X)
    assert r[3] == 3 * X[3] and len(r) == len(X) and r.tolist() == (3 * X).tolist()
    assert "DeviceArray([" in repr(r)


def test_device_arrays_pass_between_calls_without_host_copies(monkeypatch):
    from cupar.runtime.cuda import engine as runtime
    d = gpu.to_device(X)
    copies = []
    real = runtime.cuda.to_device
    monkeypatch.setattr(runtime.cuda, "to_device", lambda a, *k: copies.append(a) or real(a))
    r = axpy(np.float32(2), d, d, target_place=gpu)
    total = nrm2(r, target_place=gpu)
    assert copies == []  # nothing went from the host to the device
    assert np.isclose(total, np.linalg.norm(3 * X.astype(np.float64)), rtol=1e-5)
    axpy(np.float32(2), X, d, target_place=gpu)
    assert len(copies) == 1  # a host argument is copied once


def test_out_device_array_is_written_in_place():
    d, buf = gpu.to_device(X), gpu.to_device(np.zeros_like(X))
    assert axpy(np.float32(2), d, d, target_place=gpu, out=buf) is buf
    np.testing.assert_array_equal(np.asarray(buf), 3 * X)
    stages = axpy.stages_for(axpy.argument_types((np.float32(2), d, d)))
    assert [p.part for p in gpu.compiled_or_reason(stages).writing_into().out_params] == [0]
    assert axpy(np.float32(1), buf, d, target_place=gpu, out=buf) is buf  # aliases: copied
    np.testing.assert_array_equal(np.asarray(buf), 4 * X)
    host = np.empty_like(X)  # a host out at gpu0 is filled by a copy
    assert axpy(np.float32(2), d, d, target_place=gpu, out=host) is host
    np.testing.assert_array_equal(host, 3 * X)


def test_numba_device_arrays_are_taken_in_place():
    from numba import cuda
    d = cuda.to_device(X)
    np.testing.assert_array_equal(np.asarray(axpy(np.float32(1), d, d, target_place=gpu)), 2 * X)


def test_device_results_work_at_the_other_places():
    r = axpy(np.float32(2), X, X, target_place=gpu)
    for place in (cupar.places.cpu, cupar.places.here):
        np.testing.assert_array_equal(axpy(np.float32(1), r, X, target_place=place), 4 * X)


def test_scalar_and_tuple_results():
    total, prefix, kept, ordered = stats(X, target_place=gpu)
    assert isinstance(total, np.float32) and total == X.sum()
    np.testing.assert_array_equal(np.asarray(prefix), np.cumsum(X))
    np.testing.assert_array_equal(np.asarray(kept), X[X > 0])
    np.testing.assert_array_equal(np.asarray(ordered), np.sort(X)[::-1])


@pytest.mark.parametrize("dtype", ["float32", "int64", "uint8"])
def test_sorting_leaves_a_device_input_alone(dtype):
    x = (np.arange(40) * 7 % 11).astype(dtype)
    d = gpu.to_device(x)
    ordered = stats(d, target_place=gpu)[3]
    np.testing.assert_array_equal(np.asarray(ordered), np.sort(x)[::-1])
    np.testing.assert_array_equal(np.asarray(d), x)


def test_errors_name_the_users_line():
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index") as info:
        pick(X, np.array([0, 99]), target_place=gpu)
    assert "test_gpu.py" in str(info.value)


def test_unavailable_gpu_says_what_is_missing(monkeypatch):
    place = type(gpu)()
    monkeypatch.setattr(place, "_missing", "no CUDA driver or GPU was found on this machine")
    assert not place.available
    with pytest.raises(cupar.errors.PlaceUnavailableError, match="no CUDA driver"):
        axpy(np.float32(2), X, X, target_place=place)


def cuda_kernels(fn, *args) -> int:
    """Kernels (not device functions) in the CUDA module generated for fn(*args)."""
    compiled = gpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    assert not isinstance(compiled, str), compiled
    return len(re.findall(r"^@cuda\.jit\n", compiled.source, re.M))


def test_kernel_counts():
    m = np.ones((4, 6), np.float32)
    assert cuda_kernels(axpy, np.float32(2), X, X) == 1  # one grid-stride map
    assert cuda_kernels(nrm2, X) == 1  # block values; the last block to finish combines them
    # a thread per row with its inner loops sequential, and a block per row for long rows,
    # a warp per row for rows in between
    assert cuda_kernels(softmax, m) == 3
    # reduce, scan (one pass: decoupled look-back), filter (count, offsets, keep); numbers
    # are sorted by cuda/sort.py's radix passes
    assert cuda_kernels(stats, X) == 1 + 1 + 3


def test_nested_rows_agree_with_the_interpreter():
    m = np.random.default_rng(1).random((5, 7)).astype(np.float32)
    got = np.asarray(softmax(m, target_place=gpu))
    np.testing.assert_allclose(got, softmax(m, target_place=cupar.places.here), rtol=1e-5)


def test_explain_shows_the_cuda_source():
    stages = cupar.explain(axpy, np.float32(2), X, X, quiet=True)
    assert "@cuda.jit" in stages["cuda"] and "cuda.gridsize(1)" in stages["cuda"]


def test_out_of_device_memory_is_a_clear_error(monkeypatch):
    from numba.cuda.cudadrv.driver import CudaAPIError

    from cupar.runtime.cuda import lib as cuda_lib

    def full(shape, dtype):
        raise CudaAPIError(2, "Call to cuMemAlloc results in CUDA_ERROR_OUT_OF_MEMORY")
    axpy(np.float32(2), X, X, target_place=gpu)  # compiled before memory runs out
    monkeypatch.setattr(cuda_lib, "empty", full)
    with pytest.raises(cupar.errors.DeviceMemoryError, match="ran out of memory"):
        axpy(np.float32(2), X, X, target_place=gpu)


@pytest.mark.skipif(not SIMULATED, reason="counts launches through the simulator")
@pytest.mark.parametrize("columns, kernel", [(ROWS_BY_WARP, "map1"), (ROWS_BY_WARP + 1, "warps3"),
                                             (ROWS_BY_BLOCK, "warps3"),
                                             (ROWS_BY_BLOCK + 1, "rows2")])
def test_long_rows_get_a_warp_or_a_block_each(monkeypatch, columns, kernel):
    """(The driver goes by the length of a row's first inner loop: softmax's max of all
    elements after the first.)"""
    m = np.random.default_rng(columns).random((5, columns)).astype(np.float32)
    names = launched_kernels(monkeypatch)
    got = np.asarray(softmax(m, target_place=gpu))
    assert [n for n in names if "softmax_" in n] == [f"softmax_{kernel}"]
    np.testing.assert_allclose(got, softmax(m, target_place=cupar.places.here), rtol=1e-5)


@given(m=matrices(np.int64, max_rows=4, max_cols=3 * BLOCK, lo=0, hi=5).filter(
    lambda m: m.shape[1] > 0))  # (rows need a first element)
@examples(20)
def test_rows_by_blocks_agree_with_the_interpreter(m):
    x = np.arange(6, dtype=np.float32) * 1.5
    want = row_stats(m, x, target_place=cupar.places.here)
    got = row_stats(m, x, target_place=gpu)
    for k in range(3):  # (`zip` is cupar's here)
        np.testing.assert_array_equal(np.asarray(got.columns[k]), want.columns[k])


@pytest.mark.parametrize("columns", [3, BLOCK + 3, ROWS_BY_BLOCK + 3])
def test_a_bad_index_in_a_row_is_an_error_not_a_hang(columns):
    m = np.zeros((4, columns), np.int64)
    m[2, 1] = 99
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index"):
        row_stats(m, np.zeros(6, np.float32), target_place=gpu)


@parallel
def ragged_windows(x, starts, ends):
    """Per element, arrays whose lengths only the element knows: a window, its filter."""
    def window(s, e):
        w = gather(x, bounded_range(s, e))
        return sum(filter(lambda v: v > 2, w)), len(w)
    return map(window, starts, ends)


@given(data=st.data())
@examples(20)
def test_arrays_of_lengths_known_inside_the_loop_are_cut_from_one(data):
    x = np.arange(12, dtype=np.int64) % 5
    n = data.draw(st.integers(0, 12))
    starts = np.array(data.draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)),
                      np.int64)
    ends = np.minimum(starts + np.array(data.draw(st.lists(st.integers(0, 6), min_size=n,
                                                           max_size=n)), np.int64), 12)
    stages = ragged_windows.stages_for(ragged_windows.argument_types((x, starts, ends)))
    assert not isinstance(gpu.compiled_or_reason(stages), str)
    got = ragged_windows(x, starts, ends, target_place=gpu)
    want = ragged_windows(x, starts, ends, target_place=cupar.places.here)
    for k in range(2):  # (`zip` is cupar's here)
        np.testing.assert_array_equal(np.asarray(got.columns[k]), np.asarray(want.columns[k]))


def test_maps_agree_bit_for_bit_with_here_and_fastmath_within_rounding():
    """gpu0 fuses no multiply-add (its escape counts are here's, pixel for pixel: a fused
    one changed 0.16% of them on an H200); gpu0_fastmath may, within rounding."""
    from test_examples import load
    example = load("mandelbrot")
    cr, ci = example.pixels(16, 8, np.float32)
    expected = example.mandelbrot(cr, ci, 40, target_place=cupar.places.here)
    np.testing.assert_array_equal(np.asarray(example.mandelbrot(cr, ci, 40,
                                                                 target_place=gpu)), expected)
    rng = np.random.default_rng(3)
    x, y = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
    a = np.float32(1.7)
    exact = np.asarray(axpy(a, x, y, target_place=gpu))
    np.testing.assert_array_equal(exact, a * x + y)
    fused = np.asarray(axpy(a, x, y, target_place=cupar.places.gpu0_fastmath))
    np.testing.assert_allclose(fused, a * x + y, rtol=4 * np.finfo(np.float32).eps,
                               atol=4 * np.finfo(np.float32).eps * np.abs(a * x).max())


@parallel
def two_gathers(x, i, j):
    return gather(x, i), gather(x, j)


def test_a_program_reads_its_error_flag_once_and_raises_the_first_error():
    """Kernels flag errors and the driver reads the flag where the host must wait anyway
    (here: before it returns), so both launches go out back to back; the first error in
    program order is the one raised (compare-and-swap from zero keeps it)."""
    compiled = gpu.compiled_or_reason(two_gathers.stages_for(two_gathers.argument_types(
        (X, np.array([0]), np.array([0])))))
    assert "rt.read_flag" not in compiled.source
    assert compiled.source.count("rt.settle(cupar_err, FAILS)") == 1
    assert compiled.source.count("if cupar_err[0] != 0:") == 2  # later maps skip their work
    for i, j, column in (([0, 99], [-77], 12), ([0, 1], [-77], 26)):  # (the compiled code's
        with pytest.raises(cupar.errors.CuparIndexError) as info:  # own error: which gather)
            compiled((X, np.array(i), np.array(j)))
        assert f"test_gpu.py:{two_gathers.fn.__code__.co_firstlineno + 2}:{column}:" in \
            str(info.value)
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index 99 "):
        two_gathers(X, np.array([0, 99]), np.array([-77]), target_place=gpu)
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index -77 "):
        two_gathers(X, np.array([0, 1]), np.array([-77]), target_place=gpu)
    first, second = two_gathers(X, np.array([0, 1]), np.array([2]), target_place=gpu)
    np.testing.assert_array_equal(np.asarray(first), X[[0, 1]])
    np.testing.assert_array_equal(np.asarray(second), X[[2]])


@parallel
def row_sums_by_bin(m, bins, dest):
    return reduce_by_index(op_add, dest, bins, map(lambda row: sum(row), m))


def test_a_histogram_of_long_rows_lands_each_value_once():
    """Each value is a row's sum, which a block of threads shares out when the rows are at
    least a block long; the value must still land once, not once per thread (the padded
    max pooling's derivative came out several times too large)."""
    m = np.arange(6 * 3 * BLOCK, dtype=np.float64).reshape(6, 3 * BLOCK) % 7
    bins = np.array([0, 2, 2, 1, 0, 2])
    dest = np.zeros(3)
    expected = row_sums_by_bin(m, bins, dest, target_place=cupar.places.here)
    np.testing.assert_array_equal(np.asarray(row_sums_by_bin(m, bins, dest, target_place=gpu)),
                                  expected)
