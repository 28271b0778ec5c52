"""The cpu sort of numbers (cupar/runtime/cpu/sort.py) on arrays large enough to be split
over threads: the same answer as a stable sort, zeros in input order, NaN last ascending and
first descending, whatever the thread count and whether or not the threads run side by side."""

import numpy as np
import pytest

import cupar
from cupar import parallel, sort, cmp_lt, cmp_gt
from cupar.runtime.cpu import sort as numba_sort
from kernel_checks import bits, stably_sorted

N = 50_000 + 123  # with the sizes below: many chunks, an uneven last one


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Splitting from a few thousand elements on, in chunks of 4096 (fast tests); every
    sort looks afresh at whether its threads run side by side."""
    monkeypatch.setattr(numba_sort, "PARALLEL_FROM", 1 << 12)
    monkeypatch.setattr(numba_sort, "CHUNK", 1 << 12)
    monkeypatch.setattr(numba_sort, "ALONE_S", 0.0)
    monkeypatch.setattr(numba_sort, "_alone_until", 0.0)


def data(dtype, kind):
    rng = np.random.default_rng(7)
    if kind == "normal":
        x = rng.standard_normal(N) * 100
    elif kind == "few":  # many equal numbers: splits are refused
        x = rng.integers(-2, 3, N)
    else:  # "specials": zeros of both signs, NaN, infinities among the numbers
        x = rng.standard_normal(N)
        x[rng.random(N) < 0.2] = 0.0
        if np.dtype(dtype).kind == "f":
            x[rng.random(N) < 0.1] *= -1.0 * 0.0
            x[rng.random(N) < 0.01] = np.nan
            x[rng.random(N) < 0.01] = np.inf
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint16"])
@pytest.mark.parametrize("kind", ["normal", "few", "specials"])
@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("gain", [0.0, np.inf])  # side by side, or not (one sort)
def test_sort_numbers_matches_a_stable_sort(dtype, kind, threads, gain, monkeypatch):
    monkeypatch.setattr(numba_sort, "PARALLEL_GAIN", gain)
    x = data(dtype, kind)
    for descending in (False, True):
        got = numba_sort.sort_numbers(x, descending, threads)
        np.testing.assert_array_equal(bits(got), bits(stably_sorted(x, descending)))


def test_all_nan_and_sorted_inputs(monkeypatch):
    monkeypatch.setattr(numba_sort, "PARALLEL_GAIN", 0.0)
    for x in (np.full(N, np.nan, np.float32), np.arange(N, dtype=np.float64)[::-1].copy(),
              np.zeros(N, np.float32)):
        np.testing.assert_array_equal(bits(numba_sort.sort_numbers(x, False, 2)),
                                      bits(stably_sorted(x, False)))


@parallel
def both_ways(x):
    return sort(cmp_lt, x), sort(cmp_gt, x)


def test_compiled_sorts_of_a_large_array_keep_the_stable_order():
    x = data("float32", "specials")
    up, down = both_ways(x, target_place=cupar.places.cpu)
    np.testing.assert_array_equal(bits(up), bits(stably_sorted(x, False)))
    np.testing.assert_array_equal(bits(down), bits(stably_sorted(x, True)))
