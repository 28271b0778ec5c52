"""cupar.nn.functional: every layer, activation and loss forward against a NumPy reference
(and torch.nn.functional where installed), its gradients against central finite differences
in float64, at places.here and at the compiled place (cpu, or gpu0 under the simulator), and
its errors. Sizes are small: the interpreter and the CUDA simulator run them too."""

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


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_gradients_match_finite_differences(name, place):
    fn, make, argnums = GRADIENTS[name]
    args = make()
    grads = check_gradient(fn, args, argnums, place=place, rng=np.random.default_rng(5))
    for k, g in zip(argnums, grads):  # each gradient has its argument's dtype and shape
        g = np.asarray(cupar.places.to_host(g))
        assert g.shape == np.shape(args[k]) and g.dtype == np.float64
