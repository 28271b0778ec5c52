"""Training steps across threads (cupar/nn/shards.py): a sharded step against the whole
batch's, the same numbers in every run, the shards, the default, and bad input."""

import numba
import numpy as np
import pytest

import cupar
from cupar import nn
from cupar.errors import CuparValueError
from cupar.nn import optim
from cupar.nn.shards import auto_workers, bounds, combine


def data(n=64, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, features)).astype(np.float32),
            rng.integers(0, classes, n).astype(np.int64))


def trained(workers, steps=5, clip_norm=None, x_y=None):
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    step = nn.TrainStep(model, nn.CrossEntropyLoss(),
                        optim.SGD(model.parameters(), 0.1, momentum=0.9),
                        clip_norm=clip_norm, workers=workers)
    x, y = x_y or data()
    ran = step.run(x, y, np.random.default_rng(1).permutation(len(x)), 32, stop=steps)
    return model, step, ran


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=0, atol=64 * np.finfo(np.float32).eps * scale)


@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_a_sharded_step_gives_the_whole_batchs_to_rounding(clip_norm):
    whole, whole_step, expected = trained(1, clip_norm=clip_norm)
    model, step, ran = trained(2, clip_norm=clip_norm)
    assert step.sharding() and not whole_step.sharding()
    assert (ran.done, ran.applied, ran.seen, ran.correct) == \
        (expected.done, expected.applied, expected.seen, expected.correct)
    assert ran.loss_sum == pytest.approx(expected.loss_sum, rel=1e-5)
    for (_, a), (_, b) in zip(model.state_dict().items(), whole.state_dict().items()):
        close(a, b)
    for key in whole_step.states:
        close(step.states[key], whole_step.states[key])
    assert step.optimizer.step_count == 2


def test_a_small_last_batch_runs_on_one_shard_of_the_same_programs():
    x, y = data(40)  # batches of 32 and 8 rows
    model, step, ran = trained(2, steps=None, x_y=(x, y))
    whole, _, expected = trained(1, steps=None, x_y=(x, y))
    assert (ran.done, ran.seen) == (expected.done, expected.seen) == (2, 40)
    assert not step.functions  # (no unsharded step compiled for the 8 rows)
    for (_, a), (_, b) in zip(model.state_dict().items(), whole.state_dict().items()):
        close(a, b)


def test_sharded_steps_give_the_same_numbers_in_every_run():
    first, _, ran_first = trained(2)
    again, _, ran_again = trained(2)
    assert ran_first.loss_sum == ran_again.loss_sum
    for (_, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a, b)


def test_a_step_call_is_sharded_as_a_run_is():
    x, y = data()
    _, by_run, _ = trained(2, steps=1, x_y=(x, y))
    model, step, _ = trained(2, steps=0, x_y=(x, y))
    rows = np.random.default_rng(1).permutation(len(x))[:32]
    loss = step(x[rows], y[rows])
    assert isinstance(loss, float) and np.isfinite(loss)
    for (_, a), (_, b) in zip(model.state_dict().items(), by_run.model.state_dict().items()):
        np.testing.assert_array_equal(a, b)


def test_shards_are_contiguous_even_and_not_too_small():
    assert bounds(100, 2) == [(0, 50), (50, 100)]
    assert bounds(37, 3) == [(0, 18), (18, 37)]  # (two shards of at least 16 rows)
    assert bounds(20, 2) == [(0, 20)]
    assert bounds(1, 4) == [(0, 1)]
    loss, correct, arrays = combine([(1.0, 3, np.ones(2, np.float32)),
                                     (4.0, 1, np.full(2, 3, np.float32))], [(0, 3), (3, 4)], 4)
    assert (loss, correct) == (1.75, 4)
    np.testing.assert_allclose(arrays[0], [1.5, 1.5])
    assert arrays[0].dtype == np.float32


def test_recurrent_models_at_cpu_use_every_core_by_default():
    cores = min(numba.get_num_threads(), len(__import__("os").sched_getaffinity(0)))
    lstm = nn.Sequential(nn.LSTM(1, 4), nn.Linear(4, 2))
    assert auto_workers(lstm) == cores
    assert auto_workers(lstm, batch_size=16) == 1
    assert auto_workers(nn.Sequential(nn.Linear(3, 2))) == 1
    assert auto_workers(nn.Sequential(nn.GRU(1, 4), nn.BatchNorm1d(4))) == 1
    step = nn.TrainStep(lstm, nn.CrossEntropyLoss(), optim.Adam(lstm.parameters()))
    assert step.sharding() == (cores > 1)
    numba.set_num_threads(1)
    try:  # (Numba's thread count, read at each step, bounds the shards)
        assert not step.sharding() and auto_workers(lstm) == 1
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    lstm.to(cupar.places.here)
    assert auto_workers(lstm) == 1 and not step.sharding()


def test_bad_workers_and_bad_labels_are_clear_errors():
    model = nn.Sequential(nn.Linear(6, 3))
    opt = optim.SGD(model.parameters(), 0.1)
    with pytest.raises(CuparValueError, match="workers must be a positive int") as err:
        nn.TrainStep(model, nn.CrossEntropyLoss(), opt, workers=0)
    assert "test_nn_shards.py" in str(err.value)
    model.to(cupar.places.here)
    with pytest.raises(CuparValueError, match="shards steps across cpu threads"):
        nn.TrainStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), 0.1),
                     workers=2)
    _, step, _ = trained(2, steps=0)
    x, y = data()
    y[40] = 7
    before = step.model[0].weight
    with pytest.raises(CuparValueError, match="label") as err:
        step(x, y)
    assert "test_nn_shards.py" in str(err.value)
    assert step.model[0].weight is before and step.optimizer.step_count == 0


def test_a_nonfinite_sharded_step_changes_nothing():
    _, step, _ = trained(2, steps=0)
    x, y = data()
    x[50, 0] = np.nan
    before = step.model[0].weight
    loss = step(x, y, check_finite=True)
    assert np.isnan(loss)
    assert step.model[0].weight is before and step.optimizer.step_count == 0
