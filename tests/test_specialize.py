"""`fn.specialize(*args)`: the same values as ordinary calls, a clear error for arguments of
other types, a snapshot of the globals at compiling places; and nn.TrainStep's warm path
(which uses it) giving the checked path's losses and parameters bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cupar
from cupar import nn, parallel
from cupar.errors import CuparIndexError, CuparTypeError, CuparValueError
from cupar.nn import optim

SCALE = 2


@parallel
def scaled_sum(a, x, y):
    return sum(map(lambda xi, yi: a * xi + yi * SCALE, x, y))


@parallel
def pick(xs, i):
    return xs[i]


@parallel
def row_sums(m):
    return map(lambda row: sum(row), m)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 300), dtype=st.sampled_from([np.int64, np.int32, np.float64]))
def test_a_specialised_call_gives_the_ordinary_calls_value(n, dtype):
    x = (np.arange(n) % 7).astype(dtype)
    y = (np.arange(n) % 5).astype(dtype)
    a = dtype(3)
    fast = scaled_sum.specialize(a, x, y, target_place=cupar.places.cpu)
    assert fast(a, x, y) == scaled_sum(a, x, y, target_place=cupar.places.here)
    assert type(fast(a, x, y)) is type(scaled_sum(a, x, y))


def test_arguments_of_other_types_are_refused_naming_the_argument():
    x = np.arange(4.0)
    fast = scaled_sum.specialize(2.0, x, x)
    with pytest.raises(CuparTypeError) as err:
        fast(2.0, x.astype(np.float32), x)
    text = str(err.value)
    assert "argument `x` of `scaled_sum`" in text and "float32" in text and "float64" in text
    assert "test_specialize.py" in text  # located at the caller's line
    with pytest.raises(CuparTypeError, match="`y`.*2 dimensions"):
        fast(2.0, x, np.ones((2, 2)))
    with pytest.raises(CuparTypeError, match="argument `a`.*an int"):
        fast(2, x, x)
    with pytest.raises(CuparTypeError, match="specialised for 3 arguments, but 2"):
        fast(2.0, x)
    with pytest.raises(CuparTypeError, match="`scaled_sum` takes 3 arguments"):
        scaled_sum.specialize(2.0, x)


def test_python_ints_beyond_int64_are_refused():
    xs = np.arange(5)
    fast = pick.specialize(xs, 1)
    assert fast(xs, 3) == 3
    with pytest.raises(CuparTypeError):
        fast(xs, 1 << 70)


def test_an_error_inside_the_program_is_reported_as_an_ordinary_calls():
    xs = np.arange(5)
    fast = pick.specialize(xs, 1)
    with pytest.raises(CuparIndexError) as err:
        fast(xs, 9)
    assert "index 9 is out of range" in str(err.value) and "return xs[i]" in str(err.value)


def test_at_cpu_it_is_a_snapshot_of_the_globals():
    global SCALE
    x = np.arange(3, dtype=np.int64)
    fast = scaled_sum.specialize(np.int64(1), x, x, target_place=cupar.places.cpu)
    before = fast(np.int64(1), x, x)
    SCALE = 5
    try:
        assert fast(np.int64(1), x, x) == before  # compiled once
        assert scaled_sum(np.int64(1), x, x) != before  # the function itself sees it
    finally:
        SCALE = 2


def test_at_here_each_call_is_an_ordinary_one():
    m = np.arange(12.0).reshape(3, 4)
    fast = row_sums.specialize(m, target_place=cupar.places.here)
    np.testing.assert_array_equal(fast(m), m.sum(axis=1))
    assert "here" in repr(fast) and "2 dimensions" in repr(fast)


# -- nn.TrainStep's warm path -------------------------------------------------------------------
def make_step(seed: int = 0):
    nn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, nn.TrainStep(model, nn.CrossEntropyLoss(),
                               optim.SGD(model.parameters(), lr=0.1, momentum=0.9))


def batches(count: int, rows: int = 5):
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((rows, 6)).astype(np.float32), rng.integers(0, 3, rows))
            for _ in range(count)]


def test_the_warm_path_gives_the_checked_paths_losses_and_parameters_bit_for_bit():
    (model_a, warm), (model_b, checked) = make_step(), make_step()
    checked.warm_call = lambda x, y: None  # every step through the checks
    data = batches(6)
    losses_a = [warm(x, y) for x, y in data]
    losses_b = [checked(x, y) for x, y in data]
    assert warm.warm is not None
    assert losses_a == losses_b
    for (_, a), (_, b) in zip(model_a.named_parameters(), model_b.named_parameters()):
        np.testing.assert_array_equal(a, b)


def test_the_warm_path_leaves_bad_batches_to_the_checks():
    model, step = make_step()
    x, y = batches(1)[0]
    step(x, y)
    before = model.state_dict()
    with pytest.raises(CuparValueError, match="rows of 6 features"):
        step(np.ones((5, 4), np.float32), y)
    with pytest.raises(CuparTypeError, match="float64"):
        step(x.astype(np.float64), y)
    with pytest.raises(CuparValueError, match="negative"):
        step(x, -y - 1)
    with pytest.raises(CuparValueError, match="out of range"):
        step(x, y + 3)
    for name, value in model.state_dict().items():  # nothing changed
        np.testing.assert_array_equal(value, before[name])
    assert np.isfinite(step(x, y))  # and the step still runs


def test_a_loaded_state_is_what_the_next_warm_step_reads():
    model_a, step_a = make_step(seed=1)
    model_b, step_b = make_step(seed=2)
    x, y = batches(1)[0]
    step_a(x, y)
    step_b(x, y)
    model_b.load_state_dict(model_a.state_dict())
    step_b.states = {k: v.copy() for k, v in step_a.states.items()}
    step_b.optimizer.step_count = step_a.optimizer.step_count
    assert step_a(x, y) == step_b(x, y)
