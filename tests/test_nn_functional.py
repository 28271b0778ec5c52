"""cupar.nn.functional: every layer, activation and loss forward against a NumPy reference
(and torch.nn.functional where installed), its gradients against central finite differences
in float64, at places.here and at the compiled place (cpu, or gpu0 under the simulator), and
its errors. Sizes are small: the interpreter and the CUDA simulator run them too."""

import os

import numpy as np
import pytest

import cupar
import cupar.nn.functional as F
from cupar import *  # noqa: F403
from gradcheck import check_gradient
from strategies import COMPILED

here = cupar.places.here
PLACES = [here, COMPILED]
RNG = np.random.default_rng(13)
B, N_IN, N_OUT, H = 3, 5, 4, 3  # batch, widths, hidden size of the recurrent cells


def normal(*shape):
    return RNG.standard_normal(shape)


def away_from_zero(*shape):
    """Values with |v| in [0.2, 2]: no kink of relu or leaky_relu within a finite step."""
    return RNG.uniform(0.2, 2.0, shape) * np.where(RNG.random(shape) < 0.5, -1, 1)


def labels(n, classes):
    return RNG.integers(0, classes, n)


# -- NumPy references, in float64 -----------------------------------------------------------

def np_sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def np_gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_layer_norm(x, w, b, eps):
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def np_rnn(x, h, w_ih, w_hh, b_ih, b_hh):
    return np.tanh(x @ w_ih + b_ih + h @ w_hh + b_hh)


def np_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    a, c = x @ w_ih + b_ih, h @ w_hh + b_hh
    r, z = np_sigmoid(a[:, :H] + c[:, :H]), np_sigmoid(a[:, H:2 * H] + c[:, H:2 * H])
    n = np.tanh(a[:, 2 * H:] + r * c[:, 2 * H:])
    return (1 - z) * n + z * h


def np_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    g = x @ w_ih + b_ih + h @ w_hh + b_hh
    i, f, o = (np_sigmoid(g[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    c_new = f * c + i * np.tanh(g[:, 2 * H:3 * H])
    return o * np.tanh(c_new), c_new


def np_cross_entropy(logits, y, e):
    lp = np_log_softmax(logits)
    return np.mean(-(1 - e) * lp[np.arange(len(y)), y] - e * lp.mean(axis=1))


def np_bce(z, t):
    return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))


# -- probes: a scalar function of each layer, for cupar.grad ------------------------------

@parallel
def weigh(y, c):
    """sum(y * c): a scalar whose gradient in y is c, so every output element matters."""
    return sum(map(lambda r, s: sum(map(op_mul, r, s)), y, c))


@parallel
def p_linear(x, w, b, c):
    return weigh(F.linear(x, w, b), c)


@parallel
def p_activations(x, slope, c):
    return (weigh(F.relu(x), c) + weigh(F.leaky_relu(x, slope), c) + weigh(F.gelu(x), c)
            + weigh(F.tanh(x), c) + weigh(F.sigmoid(x), c))


@parallel
def p_softmax(x, c):
    return weigh(F.softmax(x), c) + weigh(F.log_softmax(x), c)


@parallel
def p_flatten(x, c):
    return weigh(F.flatten(x), c)


@parallel
def p_dropout(x, c):
    return weigh(F.dropout(x, 0.5, True, 11), c)


@parallel
def p_dropout4(x, c):
    return sum(map(op_mul, F.flatten_all(F.dropout4(x, 0.5, True, 11)), c))


@parallel
def p_layer_norm(x, w, b, eps, c):
    return weigh(F.layer_norm(x, w, b, eps), c)


@parallel
def p_embedding(idx, weight, c):
    return weigh(F.embedding(idx, weight), c)


@parallel
def p_rnn(x, h, w_ih, w_hh, b_ih, b_hh, c):
    return weigh(F.rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh), c)


@parallel
def p_gru(x, h, w_ih, w_hh, b_ih, b_hh, c):
    return weigh(F.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh), c)


@parallel
def p_lstm(x, h, cell, w_ih, w_hh, b_ih, b_hh, c):
    h_new, c_new = F.lstm_cell(x, h, cell, w_ih, w_hh, b_ih, b_hh)
    return weigh(h_new, c) + weigh(c_new, c)


def cell_weights(gates):
    return (normal(N_IN, gates * H), normal(H, gates * H), normal(gates * H), normal(gates * H))


# name: (function, arguments, NumPy reference)
FORWARD = {
    "linear": (F.linear, lambda: (normal(B, N_IN), normal(N_IN, N_OUT), normal(N_OUT)),
               lambda x, w, b: x @ w + b),
    "relu": (F.relu, lambda: (normal(B, N_IN),), lambda x: np.maximum(x, 0)),
    "leaky_relu": (F.leaky_relu, lambda: (normal(B, N_IN), 0.1),
                   lambda x, s: np.where(x >= 0, x, s * x)),
    "gelu": (F.gelu, lambda: (normal(B, N_IN),), np_gelu),
    "tanh": (F.tanh, lambda: (normal(B, N_IN),), np.tanh),
    "sigmoid": (F.sigmoid, lambda: (normal(B, N_IN) * 30,), np_sigmoid),
    "softmax": (F.softmax, lambda: (normal(B, N_IN) * 30,), lambda x: np.exp(np_log_softmax(x))),
    "log_softmax": (F.log_softmax, lambda: (normal(B, N_IN) * 30,), np_log_softmax),
    "flatten": (F.flatten, lambda: (normal(B, 2, 3),), lambda x: x.reshape(len(x), -1)),
    "dropout_eval": (F.dropout, lambda: (normal(B, N_IN), 0.5, False, 3), lambda x, p, t, s: x),
    "layer_norm": (F.layer_norm, lambda: (normal(B, N_IN), normal(N_IN), normal(N_IN), 1e-5),
                   np_layer_norm),
    "embedding": (F.embedding, lambda: (labels(7, 4), normal(4, N_IN)), lambda i, w: w[i]),
    "rnn_cell": (F.rnn_cell, lambda: (normal(B, N_IN), normal(B, H), *cell_weights(1)), np_rnn),
    "gru_cell": (F.gru_cell, lambda: (normal(B, N_IN), normal(B, H), *cell_weights(3)), np_gru),
    "lstm_cell": (F.lstm_cell, lambda: (normal(B, N_IN), normal(B, H), normal(B, H),
                                        *cell_weights(4)), np_lstm),
    "cross_entropy": (F.cross_entropy, lambda: (normal(B, N_OUT) * 10, labels(B, N_OUT), 0.2),
                      np_cross_entropy),
    "nll_loss": (F.nll_loss, lambda: (np_log_softmax(normal(B, N_OUT)), labels(B, N_OUT)),
                 lambda lp, y: -np.mean(lp[np.arange(len(y)), y])),
    "mse_loss": (F.mse_loss, lambda: (normal(B, N_IN), normal(B, N_IN)),
                 lambda x, t: np.mean((x - t) ** 2)),
    "bce_with_logits": (F.binary_cross_entropy_with_logits,
                        lambda: (normal(B, N_IN) * 10, RNG.random((B, N_IN))), np_bce),
}


def as_float32(args):
    return tuple(np.float32(a) if isinstance(a, float) else
                 a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                 else a for a in args)


def assert_float32_close(actual, expected):
    """float32 in gives float32 out, within float32 rounding of a float64 reference."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_float32_close(a, e)
        return
    actual = np.asarray(cupar.places.to_host(actual))
    assert actual.dtype == np.float32 and actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_numpy_and_keeps_float32(name, place):
    fn, make, reference = FORWARD[name]
    args = as_float32(make())
    expected = reference(*(a.astype(np.float64) if isinstance(a, np.ndarray) and
                           a.dtype.kind == "f" else a for a in args))
    assert_float32_close(fn(*args, target_place=place), expected)


# name: (scalar function, arguments in float64, argnums differentiated)
GRADIENTS = {
    "linear": (p_linear, lambda: (normal(B, N_IN), normal(N_IN, N_OUT), normal(N_OUT),
                                  normal(B, N_OUT)), (0, 1, 2)),
    "activations": (p_activations, lambda: (away_from_zero(B, N_IN), np.float64(0.1),
                                            normal(B, N_IN)), (0, 1)),
    "softmax": (p_softmax, lambda: (normal(B, N_IN) * 3, normal(B, N_IN)), (0,)),
    "flatten": (p_flatten, lambda: (normal(B, 2, 3), normal(B, 6)), (0,)),
    "dropout": (p_dropout, lambda: (normal(B, N_IN), normal(B, N_IN)), (0,)),
    "dropout4": (p_dropout4, lambda: (normal(B, 2, 2, 3), normal(B * 12)), (0,)),
    "layer_norm": (p_layer_norm, lambda: (normal(B, N_IN), normal(N_IN), normal(N_IN),
                                          np.float64(1e-5), normal(B, N_IN)), (0, 1, 2)),
    "embedding": (p_embedding, lambda: (labels(7, 4), normal(4, N_IN), normal(7, N_IN)), (1,)),
    "rnn_cell": (p_rnn, lambda: (normal(B, N_IN), normal(B, H), *cell_weights(1),
                                 normal(B, H)), (0, 1, 2, 3, 4, 5)),
    "gru_cell": (p_gru, lambda: (normal(B, N_IN), normal(B, H), *cell_weights(3),
                                 normal(B, H)), (0, 1, 2, 3, 4, 5)),
    "lstm_cell": (p_lstm, lambda: (normal(B, N_IN), normal(B, H), normal(B, H),
                                   *cell_weights(4), normal(B, H)), (0, 1, 2, 3, 4, 5, 6)),
    "cross_entropy": (F.cross_entropy, lambda: (normal(B, N_OUT) * 3, labels(B, N_OUT),
                                                np.float64(0.2)), (0, 2)),
    "nll_loss": (F.nll_loss, lambda: (normal(B, N_OUT), labels(B, N_OUT)), (0,)),
    "mse_loss": (F.mse_loss, lambda: (normal(B, N_IN), normal(B, N_IN)), (0, 1)),
    "bce_with_logits": (F.binary_cross_entropy_with_logits,
                        lambda: (normal(B, N_IN) * 3, RNG.random((B, N_IN))), (0, 1)),
}


# The cells' derived programs take Numba about 25 s each to compile at cpu: `make test`
# checks them at cpu with CUPAR_SLOW=1 only; its CUDA-simulator run (no Numba compile) and
# places.here check them every time.
SLOW_AT_CPU = {"rnn_cell", "gru_cell", "lstm_cell"}


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_gradients_match_finite_differences(name, place):
    if name in SLOW_AT_CPU and place is cupar.places.cpu and not os.environ.get("CUPAR_SLOW"):
        pytest.skip("compiling the cell's gradient at cpu takes ~25 s: set CUPAR_SLOW=1")
    fn, make, argnums = GRADIENTS[name]
    args = make()
    grads = check_gradient(fn, args, argnums, place=place, rng=np.random.default_rng(5))
    for k, g in zip(argnums, grads):  # each gradient has its argument's dtype and shape
        g = np.asarray(cupar.places.to_host(g))
        assert g.shape == np.shape(args[k]) and g.dtype == np.float64


# -- dropout: seeded, reproducible, off in eval ---------------------------------------------

def test_dropout_is_reproducible_scaled_and_off_in_eval():
    x = np.ones((6, 40), np.float32)
    a = F.dropout(x, 0.25, True, 42, target_place=COMPILED)
    b = np.asarray(cupar.places.to_host(F.dropout(x, 0.25, True, 42, target_place=here)))
    a = np.asarray(cupar.places.to_host(a))
    assert a.dtype == np.float32 and np.array_equal(a, b)  # one mask at every place
    assert set(np.unique(a)) <= {np.float32(0), np.float32(1 / 0.75)}
    # 240 draws at p = 0.25: the dropped count is 60 +- 6.7 (one standard deviation)
    assert 30 <= np.sum(a == 0) <= 90
    c = np.asarray(cupar.places.to_host(F.dropout(x, 0.25, True, 43, target_place=COMPILED)))
    assert not np.array_equal(a, c)  # another seed, another mask
    for training, p in ((False, 0.25), (True, 0.0)):
        assert np.array_equal(cupar.places.to_host(
            F.dropout(x, p, training, 42, target_place=COMPILED)), x)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("shape", [(0, 2, 3), (2, 0, 3), (1, 1, 1), (3, 2, 5), (2, 3, 2, 4),
                                   (0, 3, 2, 2), (1, 2, 0, 2)])
def test_dropout_of_any_rank_is_dropout_of_the_flattened_rows(shape, place):
    """dropout3 and dropout4 number each sample's numbers as one row, and dropout_flat the
    whole array's: flattening first gives the same mask."""
    x = (np.arange(int(np.prod(shape))) + 1.0).astype(np.float32).reshape(shape)
    rows = x.reshape(shape[0], int(np.prod(shape[1:])))
    fn = F.dropout3 if len(shape) == 3 else F.dropout4
    got = np.asarray(cupar.places.to_host(fn(x, 0.4, True, 7, target_place=place)))
    want = np.asarray(cupar.places.to_host(F.dropout(rows, 0.4, True, 7, target_place=here)))
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got.reshape(want.shape), want)
    flat = np.asarray(cupar.places.to_host(F.dropout_flat(x.reshape(-1), 0.4, True, 7,
                                                          target_place=place)))
    np.testing.assert_array_equal(flat, want.reshape(-1))
    assert np.array_equal(cupar.places.to_host(fn(x, 0.4, False, 7, target_place=place)), x)


# -- errors: located, and never a Numba traceback -------------------------------------------

def test_bad_input_gives_located_errors():
    errors = cupar.errors
    x, w, b = (np.ones(s, np.float32) for s in ((2, 3), (4, 5), (5,)))
    with pytest.raises(errors.CuparValueError, match="inner lengths 3 and 4") as info:
        F.linear(x, w, b)
    assert info.value.loc is not None and info.value.loc.file.endswith("layers.py")
    with pytest.raises(errors.CuparValueError, match="different lengths"):
        F.linear(x, np.ones((3, 5), np.float32), np.ones(4, np.float32))
    with pytest.raises(errors.CuparTypeError):  # float64 input, float32 weights
        F.linear(np.ones((2, 3)), np.ones((3, 5), np.float32), b)
    with pytest.raises(errors.CuparIndexError, match="out of range") as info:
        F.cross_entropy(np.zeros((2, 4), np.float32), np.array([1, 4]), 0.0)
    assert info.value.loc is not None and info.value.loc.file.endswith("losses.py")


# -- composition: a two-layer MLP's loss and gradients against torch's autograd -------------

@parallel
def mlp_loss(w1, b1, w2, b2, x, y):
    return F.cross_entropy(F.linear(F.relu(F.linear(x, w1, b1)), w2, b2), y, 0.1)


def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch is not installed: torch.nn.functional "
                                               "is an optional oracle (pip install torch)")


def test_mlp_gradients_against_torch():
    torch = torch_or_skip()
    params = [normal(N_IN, 6), normal(6), normal(6, N_OUT), normal(N_OUT)]
    x, y = normal(B, N_IN), labels(B, N_OUT)
    w1, b1, w2, b2 = (torch.tensor(p, requires_grad=True) for p in params)
    tf = torch.nn.functional
    loss = tf.cross_entropy(tf.linear(tf.relu(tf.linear(torch.tensor(x), w1.T, b1)), w2.T, b2),
                            torch.tensor(y), label_smoothing=0.1)
    loss.backward()
    for place in PLACES:
        value, grads = cupar.value_and_grad(mlp_loss, (0, 1, 2, 3))(*params, x, y,
                                                                    target_place=place)
        np.testing.assert_allclose(value, loss.item(), rtol=1e-12)
        for g, t in zip(grads, (w1, b1, w2, b2)):
            np.testing.assert_allclose(cupar.places.to_host(g), t.grad.numpy(), rtol=1e-10,
                                       atol=1e-12)


def torch_reference(torch, name, args):
    """torch.nn.functional's value for FORWARD[name] on `args` (float32 tensors)."""
    tf, t = torch.nn.functional, [torch.tensor(a) if isinstance(a, np.ndarray) else a
                                  for a in args]
    if name in ("rnn_cell", "gru_cell", "lstm_cell"):
        cls = {"rnn_cell": torch.nn.RNNCell, "gru_cell": torch.nn.GRUCell,
               "lstm_cell": torch.nn.LSTMCell}[name]
        state, (w_ih, w_hh, b_ih, b_hh) = t[1:-4], t[-4:]
        cell = cls(N_IN, H)
        with torch.no_grad():
            for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh),
                            (w_ih.T, w_hh.T, b_ih, b_hh)):
                p.copy_(v)
            out = cell(t[0], tuple(state) if name == "lstm_cell" else state[0])
        return out
    calls = {
        "linear": lambda x, w, b: tf.linear(x, w.T, b), "relu": tf.relu,
        "leaky_relu": tf.leaky_relu, "gelu": lambda x: tf.gelu(x, approximate="tanh"),
        "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "softmax": lambda x: tf.softmax(x, dim=1), "log_softmax": lambda x: tf.log_softmax(x, 1),
        "flatten": lambda x: torch.flatten(x, 1),
        "dropout_eval": lambda x, p, training, seed: tf.dropout(x, p, training),
        "layer_norm": lambda x, w, b, eps: tf.layer_norm(x, (N_IN,), w, b, eps),
        "embedding": tf.embedding,
        "cross_entropy": lambda z, y, e: tf.cross_entropy(z, y, label_smoothing=e),
        "nll_loss": tf.nll_loss, "mse_loss": tf.mse_loss,
        "bce_with_logits": tf.binary_cross_entropy_with_logits,
    }
    return calls[name](*t)


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_torch(name):
    torch = torch_or_skip()
    fn, make, _ = FORWARD[name]
    args = as_float32(make())
    expected = torch_reference(torch, name, [float(a) if isinstance(a, np.floating) else a
                                             for a in args])
    actual = fn(*args, target_place=COMPILED)
    if name == "lstm_cell":
        expected = tuple(e.detach().numpy() for e in expected)
    else:
        expected = expected.detach().numpy()
    assert_float32_close(actual, expected)


def test_nn_uses_the_public_api_only():
    """cupar.nn is written in the language: it imports neither the compiler nor the runtime."""
    from pathlib import Path
    for path in Path(F.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "compiler" not in text.replace("compiled", "") and "runtime" not in text, path
