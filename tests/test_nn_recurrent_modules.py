"""cupar.nn's recurrent modules (RNN, GRU, LSTM): parameters, the last or every hidden
state, layers stacked on every state, a Linear at every step, the error for a layer that
gets no sequence, and an LSTM that learns a task needing memory, in seconds."""

import numpy as np
import pytest

import cupar
import cupar.nn.functional as F
from cupar import nn
from cupar.errors import CuparValueError
from cupar.nn import optim
from strategies import assert_close

RNG = np.random.default_rng(11)
here = cupar.places.here


def sequences(batch=4, steps=6, width=3):
    return RNG.standard_normal((batch, steps, width)).astype(np.float32)


@pytest.mark.parametrize("cls,gates", [(nn.RNN, 1), (nn.GRU, 3), (nn.LSTM, 4)])
def test_recurrent_parameters_have_torch_names_and_the_stored_shapes(cls, gates):
    shapes = {n: p.shape for n, p in cls(3, 5).named_parameters()}
    assert shapes == {"weight_ih_l0": (3, 5 * gates), "weight_hh_l0": (5, 5 * gates),
                      "bias_ih_l0": (5 * gates,), "bias_hh_l0": (5 * gates,)}
    assert "sequence=True" in repr(cls(3, 5, sequence=True))


def test_every_hidden_state_and_a_linear_at_every_step():
    """One compiled model (an LSTM giving every state, a Linear at every step) against the
    functional layers at here: its states end with the last one."""
    x = sequences()
    model = nn.Sequential(nn.LSTM(3, 5, seed=2, sequence=True), nn.Linear(5, 2, seed=3))
    out = model(x)
    assert out.shape == (4, 6, 2) and out.dtype == np.float32
    p = [model[0].weight_ih_l0, model[0].weight_hh_l0, model[0].bias_ih_l0,
         model[0].bias_hh_l0]
    zeros = np.zeros((4, 5), np.float32)
    states = F.lstm_sequence(x, zeros, zeros, *p, target_place=here)
    assert_close(out, states @ model[1].weight + model[1].bias, dtype=np.float32, terms=64)
    last, _ = F.lstm(x, zeros, zeros, *p, target_place=here)
    assert_close(states[:, -1], last, dtype=np.float32)
    assert model(sequences(steps=0)).shape == (4, 0, 2)


def test_a_recurrent_layer_after_a_last_state_is_refused():
    model = nn.Sequential(nn.GRU(3, 5), nn.GRU(5, 5))
    with pytest.raises(CuparValueError, match="sequence=True") as err:
        model(sequences())
    assert "test_nn_recurrent_modules.py" in str(err.value)


def memory_task(rows, seed):
    """The label is the sign of the first of 8 steps, read after seven steps of noise: the
    state must carry it."""
    x = np.random.default_rng(seed).standard_normal((rows, 8, 1)).astype(np.float32)
    return x, (x[:, 0, 0] > 0).astype(np.int64)


def lstm_classifier(place=None):
    nn.manual_seed(0)
    model = nn.Sequential(nn.LSTM(1, 12), nn.Linear(12, 2))
    if place is not None:
        model.to(place)
    return model, nn.TrainStep(model, nn.CrossEntropyLoss(),
                               optim.Adam(model.parameters(), lr=0.01))


def test_an_lstm_learns_a_task_that_needs_memory():
    """The compiled training step (forward, loss, the derived backward pass through the
    loop, Adam) first against the interpreter's on one batch, then trained. (The LSTM's
    derivative meets finite differences at here in test_nn_recurrent.py.)"""
    model, step = lstm_classifier()
    twin, twin_step = lstm_classifier(here)
    x, y = memory_task(8, 1)
    # (the loss comes back a Python float; it was computed in float32)
    assert_close(np.float32(step(x, y)), np.float32(twin_step(x, y)), dtype=np.float32,
                 terms=256)
    for p, q in zip(model.parameters(), twin.parameters()):
        assert_close(p, q, dtype=np.float32, terms=256, scale=1.0)
    model, step = lstm_classifier()
    x, y = memory_task(640, 2)
    rng = np.random.default_rng(0)  # one call a step: the program compiled above (fit's
    losses = []  # TrainStep.run, the steps' loop around it, takes a third longer to compile)
    for _ in range(20):
        order = rng.permutation(len(x))
        losses += [step(x[order[k:k + 32]], y[order[k:k + 32]]) for k in range(0, len(x), 32)]
    held_out = nn.evaluate(model, memory_task(400, 3), batch_size=400)["accuracy"]
    assert held_out >= 0.9, (held_out, losses[::20])  # (chance: 0.5)
