"""cupar.nn.recurrent's whole-sequence layers (rnn, gru, lstm): forward against a NumPy
reference and torch.nn.RNN/GRU/LSTM (where installed), gradients against central finite
differences in float64 at places.here and at the compiled place (cpu, or gpu0 under the
simulator), and the derivative of loops that records their states. Sizes are small."""

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.nn.recurrent import gru, gru_sequence, lstm, lstm_sequence, rnn, rnn_sequence
from gradcheck import check_gradient
from strategies import COMPILED, assert_close

here = cupar.places.here
PLACES = [here, COMPILED]
RNG = np.random.default_rng(5)
B, T, I, H = 3, 4, 2, 3  # batch, steps, input width, hidden size


def normal(*shape):
    return RNG.standard_normal(shape)


def weights(k, dtype=np.float64, scale=0.5):
    """w_ih (I, kH), w_hh (H, kH), b_ih, b_hh (kH,)."""
    return tuple((normal(*s) * scale).astype(dtype) for s in ((I, k * H), (H, k * H),
                                                               (k * H,), (k * H,)))


# -- NumPy references, float64, torch's equations -----------------------------------------

def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def np_rnn(x, h, w_ih, w_hh, b_ih, b_hh):
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ w_ih + b_ih + h @ w_hh + b_hh)
    return h


def np_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    n = h.shape[1]
    for t in range(x.shape[1]):
        a, c = x[:, t] @ w_ih + b_ih, h @ w_hh + b_hh
        r, z = sigmoid(a[:, :n] + c[:, :n]), sigmoid(a[:, n:2 * n] + c[:, n:2 * n])
        g = np.tanh(a[:, 2 * n:] + r * c[:, 2 * n:])
        h = (1 - z) * g + z * h
    return h


def np_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    n = h.shape[1]
    for t in range(x.shape[1]):
        g = x[:, t] @ w_ih + b_ih + h @ w_hh + b_hh
        i, f, o = sigmoid(g[:, :n]), sigmoid(g[:, n:2 * n]), sigmoid(g[:, 3 * n:])
        c = f * c + i * np.tanh(g[:, 2 * n:3 * n])
        h = o * np.tanh(c)
    return h, c


def close32(actual, expected):
    """float32 results against a float64 (or torch float32) reference: a hidden state is a
    few dozen rounded operations deep per step."""
    if isinstance(expected, tuple):
        expected = tuple(np.asarray(v, np.float32) for v in expected)
    else:
        expected = np.asarray(expected, np.float32)
    assert_close(actual, expected, dtype=np.float32, terms=256, scale=1.0)


CASES = {  # name: (function, k gates, reference, takes c0)
    "rnn": (rnn, 1, np_rnn, False),
    "gru": (gru, 3, np_gru, False),
    "lstm": (lstm, 4, np_lstm, True),
}


def arguments(name, dtype=np.float64, steps=T, batch=B):
    fn, k, ref, cell = CASES[name]
    x = normal(batch, steps, I).astype(dtype)
    states = (normal(batch, H).astype(dtype),) * (2 if cell else 1)
    states = tuple(normal(batch, H).astype(dtype) for _ in states)
    return (x, *states, *weights(k, dtype))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_against_numpy(name, place):
    fn, _, ref, _ = CASES[name]
    args = arguments(name, np.float32)
    expected = ref(*(a.astype(np.float64) for a in args))
    actual = fn(*args, target_place=place)
    close32(actual, expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_zero_steps_and_one_step(name):
    fn, _, ref, _ = CASES[name]
    for steps in (0, 1):
        args = arguments(name, np.float32, steps=steps)
        close32(fn(*args, target_place=COMPILED), ref(*(a.astype(np.float64) for a in args)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_against_torch(name):
    torch = pytest.importorskip("torch", reason="PyTorch is an optional oracle")
    fn, k, _, cell = CASES[name]
    args = arguments(name, np.float32, steps=6, batch=5)
    x, states, (w_ih, w_hh, b_ih, b_hh) = args[0], args[1:-4], args[-4:]
    layer = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[name](
        I, H, batch_first=True)
    with torch.no_grad():
        for p, v in ((layer.weight_ih_l0, w_ih.T), (layer.weight_hh_l0, w_hh.T),
                     (layer.bias_ih_l0, b_ih), (layer.bias_hh_l0, b_hh)):
            p.copy_(torch.tensor(np.ascontiguousarray(v)))
        initial = tuple(torch.tensor(s)[None] for s in states)
        _, last = layer(torch.tensor(x), initial if cell else initial[0])
    expected = tuple(s[0].numpy() for s in last) if cell else last[0].numpy()
    close32(fn(*args, target_place=COMPILED), expected)


@parallel
def rnn_loss(x, h, w_ih, w_hh, b_ih, b_hh, c):
    return sum(map(lambda r: sum(map(op_mul, r, c)), rnn(x, h, w_ih, w_hh, b_ih, b_hh)))


@parallel
def gru_loss(x, h, w_ih, w_hh, b_ih, b_hh, c):
    return sum(map(lambda r: sum(map(op_mul, r, c)), gru(x, h, w_ih, w_hh, b_ih, b_hh)))


@parallel
def lstm_loss(x, h, s, w_ih, w_hh, b_ih, b_hh, c):
    hn, sn = lstm(x, h, s, w_ih, w_hh, b_ih, b_hh)
    return sum(map(lambda r, q: sum(map(lambda a, b, w: a * w + b * b, r, q, c)), hn, sn))


LOSSES = {"rnn": rnn_loss, "gru": gru_loss, "lstm": lstm_loss}
DERIVED: dict = {}


@pytest.mark.parametrize("name,place", [(n, p) for n in sorted(CASES) for p in PLACES
                                        if n == "gru" or p is here],
                         ids=lambda v: getattr(v, "name", v))
def test_gradients_match_finite_differences(name, place):
    """Every weight, the first state(s) and, for the data, x itself. At the compiled place
    the GRU's; the LSTM's compiled training step is checked against the interpreter's in
    test_nn_recurrent_modules.py (each derivative takes half a minute to compile)."""
    loss = LOSSES[name]
    args = (*arguments(name), normal(H))
    argnums = tuple(range(len(args) - 1))
    check_gradient(loss, args, argnums, place=place, rng=np.random.default_rng(2),
                   derived=derived(name, loss, len(argnums)))


def derived(key, loss, count):
    """value_and_grad of `loss` in its first `count` arguments, made once per test run."""
    if key not in DERIVED:
        DERIVED[key] = cupar.value_and_grad(loss, tuple(range(count)))
    return DERIVED[key]


def test_gradients_against_torch():
    """The compiled derivative of the finite-difference test (float64, torch in float64)."""
    torch = pytest.importorskip("torch", reason="PyTorch is an optional oracle")
    args = (*arguments("gru", steps=6, batch=5), normal(H))
    _, grads = derived("gru", gru_loss, len(args) - 1)(*args, target_place=COMPILED)
    x, h0, w_ih, w_hh, b_ih, b_hh, c = args
    layer = torch.nn.GRU(I, H, batch_first=True).double()
    with torch.no_grad():
        for p, v in ((layer.weight_ih_l0, w_ih.T), (layer.weight_hh_l0, w_hh.T),
                     (layer.bias_ih_l0, b_ih), (layer.bias_hh_l0, b_hh)):
            p.copy_(torch.tensor(np.ascontiguousarray(v)))
    _, last = layer(torch.tensor(x), torch.tensor(h0)[None])
    (last[0] * torch.tensor(c)).sum().backward()
    expected = (layer.weight_ih_l0.grad.T, layer.weight_hh_l0.grad.T, layer.bias_ih_l0.grad,
                layer.bias_hh_l0.grad)
    for g, e in zip(grads[2:6], expected):
        assert_close(g, e.numpy(), terms=256)


# -- every hidden state: the `*_sequence` forms, through iterate --------------------------

SEQUENCES = {"rnn": rnn_sequence, "gru": gru_sequence, "lstm": lstm_sequence}


def every_state(name, args):
    """The reference's hidden state after each prefix of the steps, (batch, steps, H)."""
    _, _, ref, cell = CASES[name]
    x, rest = args[0], args[1:]
    outs = [ref(x[:, :t], *rest) for t in range(1, x.shape[1] + 1)]
    outs = [o[0] if cell else o for o in outs]
    return np.stack(outs, 1) if outs else np.zeros((len(x), 0, H))


@pytest.mark.parametrize("name,place", [(n, p) for n in sorted(CASES) for p in PLACES
                                        if n != "lstm" or p is here],
                         ids=lambda v: getattr(v, "name", v))
def test_every_hidden_state_against_numpy(name, place):
    """(The compiled LSTM's every state: test_nn_recurrent_modules.py, against here.)"""
    for steps in (0, 1, T):
        args = arguments(name, np.float32, steps=steps)
        close32(SEQUENCES[name](*args, target_place=place),
                every_state(name, tuple(a.astype(np.float64) for a in args)))


@parallel
def sequence_loss(x, h, w_ih, w_hh, b_ih, b_hh, c):
    """Every step's state weighted by c, as a loss reading all outputs."""
    hs = gru_sequence(x, h, w_ih, w_hh, b_ih, b_hh)
    return sum(map(lambda m: sum(map(lambda r: sum(map(op_mul, r, c)), m)), hs))


@parallel
def stacked_loss(x, h, w_ih, w_hh, b_ih, b_hh, v, u, c):
    """Two layers: an RNN's every state into another (x of the second is differentiated),
    whose weights are v (H, H) for both products, u (H,) for both biases."""
    last = rnn(rnn_sequence(x, h, w_ih, w_hh, b_ih, b_hh), h, v, v, u, u)
    return sum(map(lambda r: sum(map(op_mul, r, c)), last))


@parallel
def lstm_sequence_loss(x, h, s, w_ih, w_hh, b_ih, b_hh, c):
    hs = lstm_sequence(x, h, s, w_ih, w_hh, b_ih, b_hh)
    return sum(map(lambda m: sum(map(lambda r: sum(map(op_mul, r, c)), m)), hs))


# At here: each of these derivatives takes half a minute to compile, and the compiled
# derivative of iterate (tuple states, products, a differentiated input read a row per step)
# is checked by test_grad_iterate.py, that of a GRU's step by the tests above
@pytest.mark.parametrize("loss,name", [(sequence_loss, "gru"), (stacked_loss, "rnn"),
                                       (lstm_sequence_loss, "lstm")],
                         ids=["gru", "rnn_into_rnn", "lstm"])
def test_gradients_of_every_hidden_state_match_finite_differences(loss, name, place=here):
    second = (normal(H, H) * 0.5, normal(H) * 0.5) if loss is stacked_loss else ()
    args = (*arguments(name), *second, normal(H))
    check_gradient(loss, args, tuple(range(len(args) - 1)), place=place,
                   rng=np.random.default_rng(3),
                   derived=derived(loss.__name__, loss, len(args) - 1))


# -- loops whose states change shape: the recorded states give way to recomputing ----------

@parallel
def halve(xs):
    if len(xs) <= 1:
        return xs
    return halve(map(lambda i: xs[2 * i] * xs[2 * i + 1], range(len(xs) // 2)))


@parallel
def product_by_halving(xs):
    return sum(halve(xs))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_loop_whose_array_shrinks(place):
    x = RNG.uniform(0.5, 1.5, 8)
    g = cupar.grad(product_by_halving)(x, target_place=place)
    assert_close(g, np.prod(x) / x, terms=16)


def test_iterate_reference():
    from cupar.dsl.prelude import iterate
    states = iterate(lambda s: (s[0] + 1, s[1] * 2.0), (np.int64(0), np.ones(2)), 3)
    assert [tuple(np.asarray(v).tolist() for v in s) for s in states] == \
        [(0, [1.0, 1.0]), (1, [2.0, 2.0]), (2, [4.0, 4.0])]
    assert len(iterate(lambda v: v[:1], np.ones(2), 3)) == 0  # shapes change: empty
    assert iterate(lambda v: v, np.ones(2), 0).shape == (0, 2)
