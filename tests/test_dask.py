"""cupar.dist.chunked: cupar programs over Dask arrays, chunk by chunk, against the same
programs on the whole array (exact for integers), on Dask's threaded scheduler and on a
distributed.LocalCluster of two worker processes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cupar import maximum, op_add, parallel, reduce, scan
from cupar.dist import chunked
from cupar.errors import CuparTypeError

da = pytest.importorskip("dask.array", reason="dask is not installed (pip install "
                         "'cupar[dask]')")


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def square(v):
    return v * v


@parallel
def larger(a, b):
    return maximum(a, b)


@parallel
def whole_sum_of_squares(x):
    return reduce(op_add, map(square, x), 0)


@parallel
def whole_scan(x):
    return scan(op_add, x)


lengths = st.integers(0, 300)
chunk_sizes = st.integers(1, 64)


@settings(max_examples=25, deadline=None)
@given(n=lengths, chunk=chunk_sizes, seed=st.integers(0, 2 ** 16))
def test_map_reduce_and_scan_equal_the_whole_array_results(n, chunk, seed):
    x = np.random.default_rng(seed).integers(-1000, 1000, n).astype(np.int64)
    dx = da.from_array(x, chunks=chunk)
    with_threads = {"scheduler": "threads"}
    np.testing.assert_array_equal(chunked.map_blocks(axpy, np.int64(3), dx, x)
                                  .compute(**with_threads), axpy(np.int64(3), x, x))
    assert chunked.reduce(op_add, dx, 7).compute(**with_threads) == x.sum() + 7
    assert chunked.reduce(op_add, dx, 0, f=square).compute(**with_threads) == \
        whole_sum_of_squares(x)
    assert chunked.reduce(larger, dx, -5000).compute(**with_threads) == \
        max([-5000, *x.tolist()])
    np.testing.assert_array_equal(chunked.scan(op_add, dx).compute(**with_threads),
                                  whole_scan(x))
    np.testing.assert_array_equal(
        chunked.scan(larger, dx, identity_value=np.iinfo(np.int64).min)
        .compute(**with_threads), np.maximum.accumulate(x) if n else x)


def test_floats_agree_to_rounding():
    x = np.random.default_rng(3).normal(size=5000).astype(np.float32)
    dx = da.from_array(x, chunks=700)
    total = chunked.reduce(op_add, dx, 0.0).compute()
    assert abs(total - x.astype(np.float64).sum()) < 1e-3
    np.testing.assert_allclose(chunked.scan(op_add, dx).compute(),
                               np.cumsum(x.astype(np.float64)), rtol=1e-4, atol=1e-3)
    assert chunked.map_blocks(axpy, np.float32(2), dx, dx).dtype == np.float32


def test_a_local_cluster_of_processes_runs_the_same_programs():
    distributed = pytest.importorskip("distributed")
    x = np.arange(20001, dtype=np.int64) % 97
    dx = da.from_array(x, chunks=2500)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        np.testing.assert_array_equal(chunked.map_blocks(axpy, np.int64(2), dx, dx)
                                      .compute(), 3 * x)
        assert chunked.reduce(op_add, dx, 0, f=square).compute() == (x * x).sum()
        np.testing.assert_array_equal(chunked.scan(op_add, dx).compute(), np.cumsum(x))


def test_bad_arguments_get_clear_errors():
    dx = da.from_array(np.arange(10), chunks=3)
    with pytest.raises(CuparTypeError, match="@parallel"):
        chunked.map_blocks(lambda v: v, dx)
    with pytest.raises(CuparTypeError, match="one length"):
        chunked.map_blocks(axpy, np.int64(2), dx, np.arange(11))
    with pytest.raises(CuparTypeError, match="identity"):
        chunked.scan(larger, dx)
    with pytest.raises(CuparTypeError, match="returns a number|as long"):
        chunked.map_blocks(whole_sum_of_squares, dx)
