"""Testing your own cupar kernels the way cupar tests itself: random inputs of the kernel's
types (including empty and one-element sequences), run at every place, the interpreter's
answer the reference.

    pip install 'cupar[test]'              # pytest and hypothesis
    pytest examples/test_my_kernels.py     # the `cupar_place` fixture comes with cupar
"""

import numpy as np
import pytest
from hypothesis import given, settings

import cupar
from cupar import *
from cupar.testing import assert_places_agree, values

FEW = settings(max_examples=20, deadline=None)  # each new type compiles once per place


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def row_sums(m):
    return map(lambda row: sum(row), m)


@parallel
def weighted_total(pairs):
    counts, weights = unzip(pairs)
    return sum(map(lambda c, w: float32(c) * w, counts, weights))


@parallel
def total(x):
    return sum(x)


@FEW
@given(values("f32", "f32[n]", "f32[n]"))
def test_axpy_agrees_everywhere(args):
    a, x, y = args
    got = assert_places_agree(axpy, a, x, y)  # here, cpu and (where available) gpu0
    np.testing.assert_allclose(got, a * x + y, rtol=1e-6)


@FEW
@given(values("f64[n][m]"))
def test_row_sums(m):
    np.testing.assert_allclose(assert_places_agree(row_sums, m), m.sum(axis=1), atol=1e-6)


@FEW
@given(values("(i64, f32)[n]", min_value=-1000, max_value=1000))
def test_a_sequence_of_tuples(pairs):
    assert_places_agree(weighted_total, pairs)


@FEW
@given(values("i32[n]", no_overflow="sum"))
def test_integer_sums_are_exact(x):
    assert assert_places_agree(total, x) == x.sum(dtype=np.int32)


def test_axpy_at_each_place(cupar_place):  # once per place; skipped where one cannot run
    x = np.arange(5, dtype=np.float32)
    got = axpy(np.float32(2), x, x, target_place=cupar_place)
    np.testing.assert_array_equal(np.asarray(got), 3 * x)


@pytest.mark.cupar_places("gpu0")  # skipped, with the reason, where gpu0 cannot run
def test_results_stay_on_the_gpu():
    x = np.arange(4, dtype=np.float32)
    got = axpy(np.float32(2), x, x, target_place=cupar.places.gpu0)
    assert not isinstance(got, np.ndarray) and np.array_equal(np.asarray(got), 3 * x)
