"""Warm compiled calls (cpu, or gpu0 when CUPAR_COMPILED_PLACE says so) take a short path
(`ParallelFunction.__call__`): it must give what the full path gives, and hand everything it
does not handle (errors, other argument kinds, a changed global) to the full path."""

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.dsl.places import to_host
from cupar.errors import CuparIndexError, CuparTypeError
from strategies import COMPILED

cpu, here = COMPILED, cupar.places.here  # `cpu`: the compiled place under test


@parallel
def pick(xs, idx):
    return gather(xs, idx)


@parallel
def total(x):
    return sum(x)


@parallel
def halves(x):
    return map(lambda v: (v, v / 2), x)


def warm(fn, *args):
    fn(*args, target_place=cpu)
    fn(*args, target_place=cpu)
    assert fn._fast, "the warm call did not set up the short path"


def test_a_warm_call_still_reports_a_bad_index_at_its_line():
    warm(pick, np.ones(3), np.array([0, 2]))
    with pytest.raises(CuparIndexError) as info:
        pick(np.ones(3), np.array([0, 7]), target_place=cpu)
    assert "index 7" in str(info.value) and "test_dispatch.py" in str(info.value)


def test_a_warm_call_takes_strided_arrays_and_array_likes():
    x = np.arange(10, dtype=np.float64)
    warm(total, x)
    assert total(x[::3], target_place=cpu) == 18.0
    assert total([1.0, 2.0], target_place=cpu) == 3.0
    assert isinstance(total(x, target_place=cpu), np.float64)
    if cpu is cupar.places.gpu0:  # a device-resident argument, then a result fed back
        doubled = halves(cpu.to_device(x.astype(np.float32)), target_place=cpu)
        assert total(doubled.columns[1], target_place=cpu) == 22.5


def test_a_warm_call_keeps_tuple_results_and_type_errors():
    x = np.arange(4, dtype=np.float32)
    warm(halves, x)
    first, second = (to_host(c) for c in halves(x, target_place=cpu).columns)
    assert np.array_equal(first, x) and second.dtype == np.float32
    with pytest.raises(CuparTypeError):
        total(np.arange(3), np.arange(3), target_place=cpu)


def test_the_default_place_picks_the_path():
    x = np.arange(5, dtype=np.int64)
    warm(total, x)
    with here:
        assert total(x) == 10
    with cpu:
        assert total(x) == 10
