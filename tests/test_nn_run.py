"""`TrainStep.run`: many training steps as one compiled call, against one call per step;
cpu_serial; and subnormal floats flushed to zero (cupar.places.cpu.subnormals_flushed)."""

import numba
import numpy as np
import pytest

import cupar
from cupar import nn, parallel
from cupar.errors import CuparValueError
from cupar.nn import optim
from cupar.runtime.cpu import fpenv


def data(n=37, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, features)).astype(np.float32),
            rng.integers(0, classes, n).astype(np.int64))


def model_and_step(kind="sgd", norm=False, seed=0):
    nn.manual_seed(seed)
    layers = [nn.Linear(6, 8), nn.ReLU()]
    if norm:
        layers += [nn.BatchNorm1d(8), nn.Dropout(0.25)]
    model = nn.Sequential(*layers, nn.Linear(8, 3))
    opt = {"sgd": lambda p: optim.SGD(p, 0.1, momentum=0.9, nesterov=True),
           "adamw": lambda p: optim.AdamW(p, 0.01)}[kind](model.parameters())
    return model, nn.TrainStep(model, nn.CrossEntropyLoss(), opt)


def close(a, b):
    """Within a few float32 roundings of the values' scale per step taken."""
    a, b = np.asarray(a), np.asarray(b)
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=0, atol=64 * np.finfo(np.float32).eps * scale)


@pytest.mark.parametrize("kind,norm", [("sgd", False), ("adamw", True)])
def test_a_run_gives_the_interpreters_step_by_step_results(kind, norm):
    """A run at cpu against one call per step at here (which is what `run` does there)."""
    x, y = data()
    order = np.random.default_rng(1).permutation(len(x))
    one, step_one = model_and_step(kind, norm)
    one.to(cupar.places.here)
    many, step_many = model_and_step(kind, norm)
    expected = step_one.run(x, y, order, 8)
    ran = step_many.run(x, y, order, 8)
    assert (ran.done, ran.applied, ran.seen, ran.bad_loss) == (5, 5, 37, None)
    assert ran.correct == expected.correct
    assert ran.loss_sum == pytest.approx(expected.loss_sum, rel=1e-5)
    assert step_many.optimizer.step_count == step_one.optimizer.step_count == 5
    for (_, a), (_, b) in zip(many.state_dict().items(), one.state_dict().items()):
        close(a, b)
    for key in step_one.states:
        close(step_many.states[key], step_one.states[key])


def test_runs_in_parts_equal_one_run_bit_for_bit():
    x, y = data(50)
    order = np.random.default_rng(2).permutation(len(x))
    whole, step_whole = model_and_step("adamw", norm=True)
    parts, step_parts = model_and_step("adamw", norm=True)
    ran = step_whole.run(x, y, order, 4)
    sums = [step_parts.run(x, y, order, 4, k, k + 5) for k in range(0, 13, 5)]
    assert ran.done == 13 and [r.done for r in sums] == [5, 10, 13]
    for (_, a), (_, b) in zip(whole.state_dict().items(), parts.state_dict().items()):
        np.testing.assert_array_equal(a, b)
    assert ran.correct == sum(r.correct for r in sums)


def test_a_nonfinite_loss_stops_the_run_before_its_step():
    x, y = data(24)
    x[13, 2] = np.inf  # in the step of rows 12..15 without shuffling
    model, step = model_and_step("adamw", norm=True)
    ran = step.run(x, y, np.arange(24), 4)
    assert (ran.done, ran.applied) == (3, 3) and not np.isfinite(ran.bad_loss)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    assert all(np.isfinite(v).all() for v in before.values())
    ran = step.run(x, y, np.arange(24), 4, start=3, stop=4)
    assert ran.done == 3 and ran.applied == 0
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])  # nothing changed
    ran = step.run(x, y, np.arange(24), 4, start=3, skip_nonfinite=True)
    assert (ran.done, ran.applied, ran.seen, ran.bad_loss) == (6, 2, 8, None)
    assert step.optimizer.step_count == 5


def test_a_run_checks_its_arguments_and_its_labels():
    x, y = data(12)
    model, step = model_and_step("adamw", norm=True)
    with pytest.raises(CuparValueError, match="steps 3 .. 2") as err:
        step.run(x, y, np.arange(12), 6, start=3)
    assert "test_nn_run.py" in str(err.value)
    y[7] = 5
    before = model[0].weight
    with pytest.raises(CuparValueError, match="label|class") as err:
        step.run(x, y, np.arange(12), 6)
    assert model[0].weight is before
    with pytest.raises(CuparValueError, match="rows of 6 features"):
        step.run(x[:, :5], y, np.arange(12), 6)


def test_fit_gives_the_same_curve_whatever_its_steps_per_call():
    x, y = data(40)
    curves = []
    for per_call in (None, 1, 3):
        model, step = model_and_step("adamw", norm=True)  # (the program of the tests above)
        history = nn.fit(model, (x, y), nn.CrossEntropyLoss(), step.optimizer, epochs=3,
                         batch_size=8, progress=False, steps_per_call=per_call, step=step)
        curves.append(history["loss"])
    assert curves[0] == curves[1] == curves[2]


@parallel
def scaled_sum(xs, a):
    return sum(map(lambda v: v * a, xs))


def test_cpu_serial_gives_cpus_results_for_large_arguments():
    xs = np.arange(200_000, dtype=np.int64)
    assert scaled_sum(xs, 3, target_place=cupar.places.cpu_serial) == \
        scaled_sum(xs, 3, target_place=cupar.places.cpu) == 3 * int(xs.sum())
    assert repr(cupar.places.cpu_serial) == "cupar.places.cpu_serial"


@parallel
def halves(xs):
    return map(lambda v: v * 0.5, xs)


def test_subnormals_are_flushed_inside_the_block_only():
    tiny = np.finfo(np.float32).tiny  # the smallest normal float32
    xs = np.full(100_000, tiny, np.float32)  # large: cpu runs its parallel loops
    assert halves(xs)[0] == tiny / 2 > 0  # a subnormal result
    threads = np.zeros(numba.get_num_threads(), np.uint32)
    with cupar.places.cpu.subnormals_flushed():
        fpenv.threads_mxcsr(threads)  # each of Numba's threads
        assert all(t & fpenv.FTZ_DAZ == fpenv.FTZ_DAZ for t in threads) or not fpenv.X86
        with cupar.places.cpu.subnormals_flushed():  # blocks nest
            assert not halves(xs).any()
        assert not halves(xs).any()
        assert not halves(xs[:10]).any()  # the serial variant: this thread
    assert (halves(xs) == tiny / 2).all()
    fpenv.threads_mxcsr(threads)
    assert not any(t & fpenv.FTZ_DAZ for t in threads)
    assert np.float32(tiny) / np.float32(2) > 0  # this thread as it was
