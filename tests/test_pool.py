"""Large results at cpu come from reused memory (cupar/runtime/pool.py).

A block may go back to the pool only when no array uses it any more (the result and every
view of it); results computed into pooled memory must equal the interpreter's; the idle
memory is capped, and a cap of 0 turns the pool off. The differential tests here lower the
pool's threshold so that small hypothesis inputs take the pooled path.
"""

import contextlib
import gc
import threading
from unittest import mock

import numpy as np
import pytest
from hypothesis import given

import cupar
from cupar import maximum, parallel, reduce, rotate, scan, sqrt
from cupar.runtime.cpu import pool
from strategies import arrays, assert_close, examples, matrices, same_length_arrays, scalars
from test_out import axpy, row_scale, several

cpu, here = cupar.places.cpu, cupar.places.here


@contextlib.contextmanager
def pooling_from_64_bytes():
    """Every result of 64 bytes or more comes from a fresh pool with room for 16 MiB idle."""
    fresh = pool.Pool(16 << 20)
    with mock.patch.object(pool, "POOL", fresh), mock.patch.object(pool, "POOL_FROM", 64):
        yield fresh


@pytest.fixture
def small_pool():
    with pooling_from_64_bytes() as fresh:
        yield fresh


def test_a_dead_result_gives_its_block_to_the_next(small_pool):
    first = pool.empty((100,), np.float64)
    address = first.ctypes.data
    del first
    assert small_pool.idle_bytes == pool.ROUND
    assert pool.empty((100,), np.float64).ctypes.data == address


def test_a_live_view_keeps_the_block(small_pool):
    result = pool.empty((10, 10), np.int32)
    result[:] = 7
    views = [result[3:], result.reshape(-1)[::2], result.T]
    address = result.ctypes.data
    del result
    gc.collect()
    others = [pool.empty((10, 10), np.int32) for _ in range(3)]
    assert all(o.ctypes.data != address for o in others)
    others[0][:] = -1
    assert all((v == 7).all() for v in views)
    del views
    assert small_pool.idle_bytes == pool.ROUND


def test_idle_memory_is_capped(monkeypatch):
    capped = pool.Pool(2 * pool.ROUND)
    monkeypatch.setattr(pool, "POOL", capped)
    monkeypatch.setattr(pool, "POOL_FROM", 64)
    blocks = [pool.empty((pool.ROUND // 8,), np.float64) for _ in range(3)]
    del blocks
    assert capped.idle_bytes == 2 * pool.ROUND  # the third block was freed


def test_cap_zero_turns_the_pool_off(monkeypatch):
    monkeypatch.setattr(pool, "POOL", pool.Pool(0))
    monkeypatch.setattr(pool, "POOL_FROM", 64)
    result = pool.empty((100,), np.float32)
    assert result.base is None  # a plain np.empty


def test_threads_never_share_a_block(small_pool):
    seen, lock = [], threading.Lock()

    def work(k):
        for _ in range(200):
            a = pool.empty((64,), np.int64)
            a[:] = k
            with lock:
                seen.append(a.ctypes.data)
            assert (a == k).all()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert small_pool.idle_bytes <= small_pool.idle_cap


@given(xy=same_length_arrays(2, same_dtype=True), a=scalars(float))
@examples(30)
def test_pooled_map_equals_the_interpreter(xy, a):
    with pooling_from_64_bytes():
        x, y = xy
        expected = axpy(a, x, y, target_place=here)
        got = axpy(a, x, y, target_place=cpu)
        again = axpy(a, x, y, target_place=cpu)  # `got` is alive: another block
        assert got.nbytes < 64 or got.ctypes.data != again.ctypes.data
        assert_close(got, expected)
        assert_close(again, expected)


@given(x=arrays(integral=True))
@examples(30)
def test_pooled_results_of_every_kind_equal_the_interpreter(x):
    with pooling_from_64_bytes():
        expected = several(x, target_place=here)
        got = several(x, target_place=cpu)
        for g, e in zip(got, expected):
            assert_close(g, e)


@given(m=matrices())
@examples(20)
def test_pooled_rows_equal_the_interpreter(m):
    with pooling_from_64_bytes():
        assert_close(row_scale(m, target_place=cpu), row_scale(m, target_place=here))


def test_large_results_reuse_memory_between_calls():
    x = np.arange(pool.POOL_FROM // 4, dtype=np.float32)
    first = axpy(np.float32(2), x, x)
    address = first.ctypes.data
    assert isinstance(first.base, pool.Lease)
    del first
    second = axpy(np.float32(3), x, x)
    assert second.ctypes.data == address
    assert second[-1] == 3 * x[-1] + x[-1]


@parallel
def temporaries(x):
    """`y` is stored once (sqrt is no cheap arithmetic) in an intermediate array, which
    the caller passes in from the pool like a result."""
    y = map(lambda v: sqrt(abs(v)), x)
    return reduce(maximum, y, 0.0), scan(maximum, y), map(lambda a, b: a - b, y, rotate(y, 1))


@given(x=arrays(integral=True))
@examples(30)
def test_pooled_intermediate_arrays_equal_the_interpreter(x):
    with pooling_from_64_bytes() as fresh:
        got = temporaries(x, target_place=cpu)
        for g, e in zip(got, temporaries(x, target_place=here)):
            assert_close(g, e)
        assert len(x) * x.itemsize < 64 or fresh.idle_bytes > 0  # `y` went back


def test_malloc_keeps_freed_memory_for_the_next_call():
    """glibc's malloc is told to serve blocks below the pool's size from its heap and to
    keep freed memory there (a step's temporaries otherwise fault fresh pages in)."""
    import platform
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert pool.MALLOC_TUNED
        assert pool.tune_malloc(64 << 20)
    assert not pool.tune_malloc(0)  # CUPAR_MALLOC_KEEP=0 leaves glibc's defaults
