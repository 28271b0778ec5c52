"""Places: the default place, `with place:` blocks (nested, per thread), `target_place=`,
and the GPU place's behaviour on a machine without a usable GPU."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import cupar
from cupar import map, parallel, places, scan
from cupar.errors import CuparTypeError, NotCompiledWarning, PlaceUnavailableError


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


class Spy(places.Place):
    """A place that counts its calls and runs them as `here` does."""

    name = "spy"

    def __init__(self):
        self.calls = 0

    def execute(self, *stages_and_args):
        self.calls += 1
        return places.here.execute(*stages_and_args)


X = np.arange(4, dtype=np.float32)
Y = np.ones(4, dtype=np.float32)
EXPECTED = np.float32(2) * X + Y


def call():
    return axpy(np.float32(2), X, Y)


def test_places_exist_with_their_names():
    assert isinstance(places.here, places.Place)
    assert isinstance(places.cpu, places.Place)
    assert isinstance(places.gpu0, places.Place)
    assert cupar.places.gpu0 is places.gpu0
    assert (repr(places.here), repr(places.cpu), repr(places.gpu0)) == (
        "cupar.places.here", "cupar.places.cpu", "cupar.places.gpu0")


def test_default_place_is_cpu(monkeypatch):
    assert places.current() is places.cpu
    spy = Spy()
    monkeypatch.setattr(places.cpu, "execute", spy.execute)
    np.testing.assert_array_equal(call(), EXPECTED)
    assert spy.calls == 1


def test_with_sets_and_restores_the_default_place():
    spy = Spy()
    with spy as entered:
        assert entered is spy
        assert places.current() is spy
        np.testing.assert_array_equal(call(), EXPECTED)
        np.testing.assert_array_equal(call(), EXPECTED)
    assert spy.calls == 2
    assert places.current() is places.cpu
    call()
    assert spy.calls == 2


def test_with_here_runs_the_interpreter():
    with cupar.places.here:
        assert places.current() is places.here
        result = call()
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, EXPECTED)


def test_nested_places_restore_in_order():
    outer, inner = Spy(), Spy()
    with outer:
        with inner:
            assert places.current() is inner
            call()
            with places.here:
                assert places.current() is places.here
            assert places.current() is inner
        assert places.current() is outer
        call()
    assert places.current() is places.cpu
    assert (outer.calls, inner.calls) == (1, 1)


def test_place_is_restored_after_an_exception():
    with pytest.raises(RuntimeError):
        with places.here:
            raise RuntimeError("boom")
    assert places.current() is places.cpu


def test_target_place_overrides_the_default():
    spy, other = Spy(), Spy()
    with spy:
        np.testing.assert_array_equal(axpy(np.float32(2), X, Y, target_place=other), EXPECTED)
        np.testing.assert_array_equal(
            axpy(np.float32(2), X, Y, target_place=places.here), EXPECTED)
    assert (spy.calls, other.calls) == (0, 1)


def test_target_place_of_a_wrong_type_is_a_type_error():
    for wrong in ("here", places.Interpreted, 0, object()):
        with pytest.raises(CuparTypeError) as info:
            axpy(np.float32(2), X, Y, target_place=wrong)
        assert "target_place" in info.value.message


def test_places_are_per_thread():
    seen = {}

    def worker(key, place=None):
        if place is None:
            seen[key] = places.current()
            return
        with place:
            seen[key] = places.current()
            seen[key + "_result"] = call()

    spy = Spy()
    with places.here:
        thread = threading.Thread(target=worker, args=("plain",))
        thread.start()
        thread.join()
        thread = threading.Thread(target=worker, args=("spy", spy))
        thread.start()
        thread.join()
        assert places.current() is places.here  # the thread's block did not leak here
    assert seen["plain"] is places.cpu  # a new thread starts at the default place
    assert seen["spy"] is spy and spy.calls == 1
    np.testing.assert_array_equal(seen["spy_result"], EXPECTED)
    assert places.current() is places.cpu


def test_threads_with_different_places_do_not_interfere():
    spies = [Spy() for _ in range(4)]
    barrier = threading.Barrier(len(spies))
    errors = []

    def worker(spy):
        try:
            with spy:
                barrier.wait()
                for _ in range(3):
                    assert places.current() is spy
                    call()
        except Exception as exc:  # reported below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in spies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [s.calls for s in spies] == [3] * len(spies)


def test_gpu0_availability_is_a_bool():
    assert isinstance(places.gpu0.available, bool)


def test_gpu0_without_a_gpu_raises_a_clear_error():
    if places.gpu0.available:
        result = axpy(np.float32(2), X, Y, target_place=places.gpu0)
        np.testing.assert_allclose(result, EXPECTED)
        return
    with pytest.raises(PlaceUnavailableError) as info:
        axpy(np.float32(2), X, Y, target_place=places.gpu0)
    text = str(info.value)
    assert "gpu0" in text
    assert places.gpu0.missing() in text  # says what is missing
    assert info.value.hint and "cpu" in info.value.hint  # and what to do instead
    with pytest.raises(PlaceUnavailableError):
        with places.gpu0:
            call()
    assert places.current() is places.cpu


@parallel
def running_row_totals(m):
    """A scan of rows whose operator is not an elementwise map (keep the later row): not
    compiled yet, so cpu interprets it."""
    return scan(lambda a, b: b, m)


def test_a_program_cpu_cannot_compile_runs_with_one_warning():
    m = np.arange(12, dtype=np.int64).reshape(4, 3)
    with pytest.warns(NotCompiledWarning, match=r"running_row_totals\(\) runs in the "
                      r"interpreter at cpu \(same results, much slower\): scans over "
                      r"sequences, other than elementwise maps of rows") as caught:
        first = running_row_totals(m, target_place=places.cpu)
    assert caught[0].filename == __file__  # at the user's def line
    np.testing.assert_array_equal(np.asarray(first), m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same program again: no second warning
        running_row_totals(m, target_place=places.cpu)


class StandInCuda:
    """numba.cuda as the probe sees it, failing at a chosen step."""

    def __init__(self, fail_at: str | None = None, wrong: bool = False):
        self.fail_at, self.wrong = fail_at, wrong

    def is_available(self):
        return True

    def jit(self, signature):
        if self.fail_at == "compile":
            raise AttributeError("module 'numpy' has no attribute 'row_stack'")
        return lambda fn: StandInKernel(self)

    def to_device(self, array):
        return StandInDeviceArray(array.copy())


class StandInKernel:
    def __init__(self, api):
        self.api = api

    def __getitem__(self, shape):
        def launch(data):
            if self.api.fail_at == "run":
                raise RuntimeError("CUDA_ERROR_LAUNCH_FAILED")
            data.array[:] = np.arange(data.array.size) * (3 if self.api.wrong else 2)
        return launch


class StandInDeviceArray:
    def __init__(self, array):
        self.array = array

    def copy_to_host(self):
        return self.array


def test_gpu0_is_available_only_when_a_probe_kernel_compiles_and_runs():
    from cupar.runtime.cuda.probe import probe
    assert probe(StandInCuda()) is None
    broken = probe(StandInCuda(fail_at="compile"))
    assert broken.startswith("a probe kernel failed to compile (AttributeError: module "
                             "'numpy' has no attribute 'row_stack')")
    assert f"numpy {np.__version__}" in broken and "numba-cuda" in broken  # the versions
    assert "pip install 'numpy<2.5'" in broken  # and the remedy for this known case
    assert "failed to run (RuntimeError: CUDA_ERROR_LAUNCH_FAILED)" in probe(
        StandInCuda(fail_at="run"))
    assert "computed wrong values" in probe(StandInCuda(wrong=True))


def test_a_broken_cuda_makes_gpu0_unavailable_with_the_reason(monkeypatch):
    from cupar.runtime.cuda import probe
    monkeypatch.setattr(places, "cuda_missing", lambda: probe.probe(StandInCuda("compile")))
    place = type(places.gpu0)()
    assert not place.available
    with pytest.raises(PlaceUnavailableError, match="row_stack"):
        axpy(np.float32(2), X, Y, target_place=place)
