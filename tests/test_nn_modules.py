"""cupar.nn's module layer, optimizers, training step and checkpoints: parameter shapes,
state_dict round trips, train/eval differences, each optimizer's update against NumPy's
formulas, training that reaches an accuracy in seconds, reproducibility, and the errors
(located, and leaving no partial state)."""

import os
import warnings

import numpy as np
import pytest

import cupar
from cupar import nn
from cupar.errors import CuparError, CuparTypeError, CuparValueError, NotCompiledWarning
from cupar.nn import optim
from strategies import COMPILED

SLOW = os.environ.get("CUPAR_SLOW") == "1"


def tiny(seed=0):
    """A 3-4-2 model: small enough that every place compiles it in seconds."""
    nn.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def batch(n=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype(np.float32), \
        rng.standard_normal((n, 2)).astype(np.float32)


# -- structure --------------------------------------------------------------------------

def test_parameters_have_torch_names_and_the_stored_shapes():
    model = tiny()
    names = [(n, v.shape, v.dtype) for n, v in model.named_parameters()]
    assert names == [("0.weight", (3, 4), np.float32), ("0.bias", (4,), np.float32),
                     ("2.weight", (4, 2), np.float32), ("2.bias", (2,), np.float32)]
    assert len(model.parameters()) == 4 and model[0].weight is model.parameters()[0]
    assert "Linear(in_features=3, out_features=4, bias=True)" in repr(model)


def test_state_dict_round_trip_and_refusal_without_partial_load(tmp_path):
    a, b = tiny(0), tiny(1)
    assert not np.array_equal(a[0].weight, b[0].weight)
    b.load_state_dict(a.state_dict())
    for (_, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(x, y)
    state = a.state_dict()
    state["2.bias"] = np.zeros(3, np.float32)  # wrong shape: nothing may change
    before = b[0].weight.copy()
    b[0].weight[...] = 7.0
    with pytest.raises(CuparValueError, match=r"`2.bias` is float32\[3\]"):
        b.load_state_dict(state)
    assert np.all(b[0].weight == 7.0)
    del before


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "tiny.npz"
    nn.save(tiny(), path)
    other = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    weight = other[0].weight.copy()
    with pytest.raises(CuparValueError, match="does not fit this model") as err:
        nn.load(other, path)
    assert "test_nn_modules.py" in str(err.value) and "Linear(in_features=3, " \
        "out_features=4" in str(err.value)
    np.testing.assert_array_equal(other[0].weight, weight)
    same = nn.load(tiny(5), path)
    np.testing.assert_array_equal(same[0].weight, tiny()[0].weight)


def test_assigning_a_parameter_of_another_shape_is_refused():
    model = tiny()
    with pytest.raises(CuparValueError, match="cannot be replaced"):
        model[0].weight = np.zeros((4, 3), np.float32)


# -- forward, train and eval ---------------------------------------------------------------

def test_forward_matches_numpy():
    model = tiny()
    x, _ = batch()
    w1, b1, w2, b2 = model.parameters()
    expect = np.tanh(x @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(model(x), expect, rtol=1e-5, atol=1e-6)


def test_dropout_acts_in_training_only():
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 64), nn.Dropout(0.5))
    x = np.ones((4, 3), np.float32)
    model.eval()
    out_eval = model(x)
    np.testing.assert_allclose(out_eval, x @ model[0].weight + model[0].bias, rtol=1e-6)
    model.train()
    out_train = model(x)
    zeros = out_train == 0
    assert 0.3 < zeros.mean() < 0.7  # about half dropped
    np.testing.assert_allclose(out_train[~zeros], 2 * out_eval[~zeros], rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 6, 5), (3, 2, 4, 5)])
def test_dropout_takes_sequences_and_images(shape):
    x = np.ones(shape, np.float32)
    model = nn.Sequential(nn.Dropout(0.5))
    model.eval()
    np.testing.assert_array_equal(model(x), x)
    model.train()
    out = np.asarray(model(x))
    assert out.shape == shape and set(np.unique(out)) <= {0.0, 2.0}
    assert 0.3 < (out == 0).mean() < 0.7


def test_dropout_between_convolutions_keeps_their_pixel_rows():
    """After a convolution, images flow as rows of pixels; dropout stays in that form."""
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Dropout(0.5), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 5 * 5, 3))
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    model.eval()
    quiet = np.asarray(model(x))
    model.train()
    noisy = np.asarray(model(x))
    assert noisy.shape == quiet.shape == (2, 3) and not np.allclose(noisy, quiet)


# -- optimizers against NumPy's formulas ----------------------------------------------------

def numpy_grads(params, x, t):
    """Gradients of mean((tanh(x w1 + b1) w2 + b2 - t)^2) in float64."""
    w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2 * (out - t) / out.size
    d_h = d_out @ w2.T * (1 - h * h)
    return [x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0)]


def sgd_reference(params, grads, bufs, lr, momentum, wd, nesterov, first):
    new_p, new_b = [], []
    for p, g, b in zip(params, grads, bufs):
        d = g + wd * p
        b = d if first else momentum * b + d
        new_b.append(b)
        new_p.append(p - lr * (d + momentum * b if nesterov else b))
    return new_p, new_b


@pytest.mark.parametrize("nesterov,wd", [(False, 0.0), (True, 0.01)])
def test_sgd_with_momentum_follows_torch_rules(nesterov, wd):
    model = tiny()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=wd,
                    nesterov=nesterov)
    step = nn.TrainStep(model, nn.MSELoss(), opt)
    params = [p.astype(np.float64) for p in model.parameters()]
    bufs = [np.zeros_like(p) for p in params]
    for k in range(3):
        x, t = batch(seed=k)
        grads = numpy_grads(params, x, t)
        params, bufs = sgd_reference(params, grads, bufs, 0.1, 0.9, wd, nesterov, k == 0)
        step(x, t)
    for got, want in zip(model.parameters(), params):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
def test_adam_and_adamw_follow_torch_rules(kind):
    model = tiny()
    opt = getattr(optim, kind)(model.parameters(), lr=0.01, weight_decay=0.1)
    step = nn.TrainStep(model, nn.MSELoss(), opt)
    params = [p.astype(np.float64) for p in model.parameters()]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps, lr, wd = 0.9, 0.999, 1e-8, 0.01, 0.1
    for k in range(1, 4):
        x, t = batch(seed=k)
        grads = numpy_grads(params, x, t)
        for j, g in enumerate(grads):
            p = params[j]
            if kind == "Adam":
                g = g + wd * p
            else:
                p = p * (1 - lr * wd)
            m[j] = b1 * m[j] + (1 - b1) * g
            v[j] = b2 * v[j] + (1 - b2) * g * g
            params[j] = p - lr * (m[j] / (1 - b1 ** k)) / (np.sqrt(v[j] / (1 - b2 ** k)) + eps)
        step(x, t)
    for got, want in zip(model.parameters(), params):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_clipping_scales_to_the_global_norm():
    model = tiny()
    params = [p.astype(np.float64) for p in model.parameters()]
    x, t = batch()
    t = t * 100  # large gradients
    grads = numpy_grads(params, x, t)
    norm = np.sqrt(sum((g * g).sum() for g in grads))
    assert norm > 1.0
    step = nn.TrainStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
                        clip_norm=1.0)
    step(x, t)
    for got, p, g in zip(model.parameters(), params, grads):
        np.testing.assert_allclose(got, p - 0.1 * g / (norm + 1e-6), rtol=2e-5, atol=2e-6)


def test_schedules_follow_torch():
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    rates = []
    for _ in range(5):
        rates.append(opt.lr)
        sched.step()
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25]
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    cosine = optim.CosineAnnealingLR(opt, T_max=4)
    got = [opt.lr] + [cosine.step() or opt.lr for _ in range(4)]
    np.testing.assert_allclose(got, [(1 + np.cos(np.pi * t / 4)) / 2 for t in range(5)])
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    warm = optim.LinearWarmup(opt, warmup=4, start_factor=0.2)
    got = [opt.lr] + [warm.step() or opt.lr for _ in range(5)]
    np.testing.assert_allclose(got, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


# -- training -----------------------------------------------------------------------------

def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split
    d = datasets.load_digits()
    x = (d.data / 16).astype(np.float32)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.2,
                            stratify=d.target, random_state=0)


def test_the_digits_mlp_learns_and_a_seed_repeats_it_bit_for_bit():
    x_train, x_test, y_train, y_test = digits()
    runs = []
    for _ in range(2):
        nn.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        history = nn.fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(), optimizer=opt,
                         epochs=8, batch_size=32, validation=(x_test, y_test), seed=0,
                         progress=False)
        runs.append(history)
    assert runs[0]["loss"] == runs[1]["loss"]  # bit for bit
    assert runs[0]["val_accuracy"][-1] >= 0.95
    assert runs[0]["accuracy"][-1] > 0.9 and runs[0]["loss"][-1] < runs[0]["loss"][0]
    scores = nn.evaluate(model, (x_test, y_test))
    assert scores["accuracy"] == pytest.approx(runs[1]["val_accuracy"][-1])


def test_a_callback_can_stop_training():
    model = tiny()
    x, t = batch(20)
    seen = []
    history = nn.fit(model, (x, t), loss="mse", optimizer=optim.SGD(model.parameters(), 0.1),
                     epochs=5, batch_size=8, progress=False,
                     callbacks=[lambda epoch, logs: seen.append(logs["loss"]) or epoch == 1])
    assert len(seen) == 2 and len(history["loss"]) == 2


def test_a_nan_loss_stops_with_the_step_named_and_the_model_unchanged():
    model = tiny()
    x, t = batch(16)
    x[9, 1] = np.nan  # in the second batch of 8 when not shuffled... wherever shuffled
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(CuparValueError, match=r"the loss is nan at epoch 0, step \d"):
        nn.fit(model, (x, t), loss="mse", optimizer=opt, epochs=1, batch_size=8,
               progress=False)
    assert all(np.isfinite(p).all() for p in model.parameters())
    history = nn.fit(model, (x, t), loss="mse", optimizer=opt, epochs=1, batch_size=8,
                     progress=False, on_nonfinite="continue")
    assert np.isfinite(history["loss"][0])
    assert all(np.isfinite(p).all() for p in model.parameters())


# -- errors -------------------------------------------------------------------------------

def test_input_of_the_wrong_width_or_dtype_is_a_located_error():
    model = tiny()
    with pytest.raises(CuparValueError, match="rows of 3 features, but the input's rows "
                       "have 5") as err:
        model(np.zeros((2, 5), np.float32))
    assert "test_nn_modules.py" in str(err.value)
    with pytest.raises(CuparTypeError, match="float32 parameters, but the input is float64"):
        model(np.zeros((2, 3)))


def test_labels_out_of_range_are_a_located_error_and_change_nothing():
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4))
    step = nn.TrainStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), 0.1))
    x = np.ones((3, 3), np.float32)
    step(x, np.array([0, 1, 3]))
    weight = model[0].weight
    with pytest.raises(CuparValueError, match="label is out of range") as err:
        step(x, np.array([0, 4, 1]))
    assert "test_nn_modules.py" in str(err.value)
    with pytest.raises(CuparValueError, match="negative"):
        step(x, np.array([0, -1, 1]))
    with pytest.raises(CuparTypeError, match="labels must be integers"):
        step(x, np.array([0.0, 1.0, 1.0]))
    assert model[0].weight is weight


def test_an_optimizer_of_another_model_is_refused():
    a, b = tiny(), tiny()
    with pytest.raises(CuparValueError, match="not this model's parameters"):
        nn.TrainStep(a, "mse", optim.SGD(b.parameters(), 0.1))


def test_a_model_at_a_place_its_parameters_are_not_on_is_refused():
    model = tiny()
    if cupar.places.gpu0.available:
        model.to(cupar.places.gpu0)
        model[0]._parameters["weight"] = np.zeros((3, 4), np.float32)  # one left behind
        with pytest.raises(CuparValueError, match="`0.weight` is a host array"):
            model(np.zeros((2, 3), np.float32))
    else:
        with pytest.raises(CuparError, match="cannot run on"):
            model.to(cupar.places.gpu0)


def test_the_step_is_one_program_that_explain_shows():
    model = tiny()
    step = nn.TrainStep(model, nn.MSELoss(), optim.SGD(model.parameters(), 0.1, momentum=0.9))
    x, t = batch()
    stages = cupar.explain(step.function_for(x), *step.arguments(x, t), quiet=True)
    assert "def step(p_0_weight, p_0_bias, p_2_weight, p_2_bias" in stages["source"]
    assert stages["kernels"].count("kernel function ") == 1
    assert "value_and_grad(objective" in step.source


@pytest.mark.skipif(COMPILED is not cupar.places.gpu0, reason="gpu0 runs only")
def test_the_same_model_trains_at_gpu0():
    model = tiny().to(cupar.places.gpu0)
    x, t = batch(16)
    opt = optim.Adam(model.parameters(), lr=0.01)
    history = nn.fit(model, (x, t), loss="mse", optimizer=opt, epochs=3, batch_size=8,
                     progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert not isinstance(model[0].weight, np.ndarray)  # a device array


@pytest.mark.skipif(COMPILED is not cupar.places.gpu0, reason="gpu0 runs only")
def test_a_classifier_step_compiles_for_gpu0_without_falling_back_to_cpu():
    """The cross-entropy gradient's per-row temporaries once made the whole step run at
    cpu (a NotCompiledWarning): arrays cannot be made inside a GPU kernel."""
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 4)).to(cupar.places.gpu0)
    x = batch(12)[0]
    y = np.arange(12, dtype=np.int64) % 4
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotCompiledWarning)
        history = nn.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=3,
                         batch_size=4, progress=False)
    assert history["loss"][-1] < history["loss"][0]
