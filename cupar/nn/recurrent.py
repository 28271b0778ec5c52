"""Recurrent cells, one time step over a batch, as `@parallel` functions with torch's gate
order and equations, weights stored (in, out) as in `linear`.

For hidden size H, `w_ih` is (in, k H), `w_hh` is (H, k H) and the biases are k H long, the
gates side by side in torch's order: k = 1 for `rnn_cell`, 3 (r, z, n) for `gru_cell`, 4
(i, f, g, o) for `lstm_cell`. Torch's `weight_ih` is the transpose: `w_ih = weight_ih.T`.

    import numpy as np
    from cupar.nn.recurrent import gru_cell

    x, h = np.ones((8, 5), np.float32), np.zeros((8, 16), np.float32)
    w_ih, w_hh = np.zeros((5, 48), np.float32), np.zeros((16, 48), np.float32)
    b = np.zeros(48, np.float32)
    h = gru_cell(x, h, w_ih, w_hh, b, b)       # (8, 16)

Both products are taken for all gates at once (`linear`: one matrix product each, the bias
added in its kernel); a row's gates are then read from its product rows at offsets j, H + j,
... (each such read costs a scatter-add in the derived backward pass, so they are few).

Whole sequences: `rnn`, `gru` and `lstm` take x of shape (batch, steps, in) (torch's
batch_first) and return the last hidden state (batch, H) (`lstm`: (h, c)), with the same
weights. The recurrence is a tail-recursive loop over time, each step one cell: one product
of x_t and one of h for all gates, the gates read at their offsets. Its derivative records
the hidden states as the loop runs and reads them backwards (autodiff_loops.py). Cutting
the weights per gate before the loop (a product per gate, whole rows zipped, no reads at
offsets and so no scatter-adds in the backward step) was measured slower: value_and_grad of
the mnist1d classifiers (batch 100, 40 steps, H 64) 18.7 -> 12.9 ms (GRU) and 28.2 -> 18.7
ms (LSTM) with whole-gate products (`benchmarks/nn_recurrent.py`). The gate reads at `hidden
+ j` are reads of a shifted index range, checked once per row (their checks per element had
kept the loops from vectorising), and their derived scatter-adds add into contiguous runs;
the derivative runs the loop's steps once forward (recording the states), not twice: 12.9
-> 7.1 ms (GRU) and 18.7 -> 10.0 ms (LSTM), forward 2.9 -> 1.8 and 5.5 -> 3.0 ms.

The product of h and w_hh (the LSTM: all its gates) is carried into the next step as part
of the loop's state, so it is recorded with the states: the derived backward step then
reads it instead of computing it again, and the product it computes for the next state
goes unread and is never computed. That is three products of h's size per step where there
were four (the forward one, and the two of its derivative), as torch's; LSTM
value_and_grad 8.7 -> 7.7 ms on one thread, with OpenBLAS's products (Haswell kernels:
about two thirds of the time).

The derived backward step had also computed the step's new state again (the LSTM's c' and
h', five transcendental functions per unit) to read it (h' in w_hh's cotangent h'^T ct, c'
in h''s derivative); cupar.grad now reads state t + 1 from the record instead: LSTM
value_and_grad 8.2-8.4 -> 6.9-7.1 ms (one thread, SkylakeX
kernels), and with the faster float32 exp (vector_math) 6.4-6.7 ms, the forward pass 2.5 ->
1.7 ms. What is left: OpenBLAS's three products per step (about half), the backward step's
gate activations (i, f, g, o and tanh(c'), computed again from the recorded
pre-activations) and its scatter-adds of the gates' cotangents into rows of 4 H.

The input projections are taken per step, not as one product of all steps before the loop
(as Deep Speech does): the loop would then read step t's rows of that (steps, batch, k H)
array, and the derived backward step adds its rows' cotangent into a whole copy of the
array's cotangent at every step (O(steps^2 x batch x k H) traffic). Measured at batch 100,
40 steps, H 64: value_and_grad of a GRU classifier 170 ms that way, 30 ms this way. Per
step, x_t is data (no cotangent) and the weights' cotangents are small.

    from cupar.nn.recurrent import gru
    h = gru(np.ones((8, 40, 1), np.float32), np.zeros((8, 16), np.float32),
            np.zeros((1, 48), np.float32), np.zeros((16, 48), np.float32), b, b)  # (8, 16)
"""

from cupar import *  # noqa: F401,F403

from .activations import sigmoid1
from .layers import linear


@parallel
def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """h' = tanh(x w_ih + b_ih + h w_hh + b_hh): torch's `RNNCell` with tanh."""
    return map(lambda a, c: map(lambda u, v: tanh(u + v), a, c),
               linear(x, w_ih, b_ih), linear(h, w_hh, b_hh))


@parallel
def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """torch's `GRUCell`: r = sigmoid(x W_ir + b_ir + h W_hr + b_hr), z likewise,
    n = tanh(x W_in + b_in + r (h W_hn + b_hn)), h' = (1 - z) n + z h."""
    return gru_update(linear(x, w_ih, b_ih), linear(h, w_hh, b_hh), h)


@parallel
def gru_update(a, c, h):
    """A GRU step from its two products (a = x w_ih + b_ih, c = h w_hh + b_hh)."""
    hidden = len(h[0]) if len(h) > 0 else 0

    def row(arow, crow, hrow):
        s = map(op_add, arow, crow)  # r's and z's pre-activations (n's part goes unused)

        def unit(j):
            r = sigmoid1(s[j])
            z = sigmoid1(s[hidden + j])
            n = tanh(arow[2 * hidden + j] + r * crow[2 * hidden + j])
            return (1.0 - z) * n + z * hrow[j]
        return map(unit, range(hidden))
    return map(row, a, c, h)


@parallel
def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """torch's `LSTMCell`, returning (h', c'): i, f, o = sigmoid of their gates,
    g = tanh of its gate, c' = f c + i g, h' = o tanh(c')."""
    return lstm_update(lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh), c)


@parallel
def lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh):
    """The four gates' pre-activations, side by side: x w_ih + b_ih + h w_hh + b_hh."""
    return map(lambda a, b: map(op_add, a, b), linear(x, w_ih, b_ih), linear(h, w_hh, b_hh))


@parallel
def lstm_update(gates, c):
    """An LSTM step, (h', c'), from its gates' pre-activations."""
    hidden = len(c[0]) if len(c) > 0 else 0

    def cell_row(g, crow):
        def unit(j):
            i = sigmoid1(g[j])
            f = sigmoid1(g[hidden + j])
            return f * crow[j] + i * tanh(g[2 * hidden + j])
        return map(unit, range(hidden))
    c_new = map(cell_row, gates, c)

    def hidden_row(g, crow):
        return map(lambda j: sigmoid1(g[3 * hidden + j]) * tanh(crow[j]), range(hidden))
    return (map(hidden_row, gates, c_new), c_new)


# -- whole sequences ----------------------------------------------------------------------

@parallel
def steps_of(x):
    return len(x[0]) if len(x) > 0 else 0


@parallel
def at_step(x, t):
    """The inputs of time step t, (batch, in), of x (batch, steps, in)."""
    return map(lambda row: row[t], x)


@parallel
def rnn(x, h0, w_ih, w_hh, b_ih, b_hh):
    """torch's `RNN` (tanh, one layer, batch_first) over x (batch, steps, in) from h0
    (batch, H): the last hidden state, h' = tanh(x_t w_ih + b_ih + h w_hh + b_hh)."""
    steps = steps_of(x)

    def run(t, h, c):  # c: h w_hh + b_hh, carried (see the module's notes)
        if t >= steps:
            return h
        h_new = map(lambda a, crow: map(lambda u, v: tanh(u + v), a, crow),
                    linear(at_step(x, t), w_ih, b_ih), c)
        return run(t + 1, h_new, linear(h_new, w_hh, b_hh))
    return run(0, h0, linear(h0, w_hh, b_hh))


@parallel
def gru(x, h0, w_ih, w_hh, b_ih, b_hh):
    """torch's `GRU` (one layer, batch_first) over x (batch, steps, in) from h0 (batch, H):
    the last hidden state, each step a `gru_cell`. The product of h and w_hh is carried
    into the next step (see the module's notes)."""
    steps = steps_of(x)

    def run(t, h, c):
        if t >= steps:
            return h
        h_new = gru_update(linear(at_step(x, t), w_ih, b_ih), c, h)
        return run(t + 1, h_new, linear(h_new, w_hh, b_hh))
    return run(0, h0, linear(h0, w_hh, b_hh))


@parallel
def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """torch's `LSTM` (one layer, batch_first) over x (batch, steps, in) from h0 and c0
    (batch, H): the last (h, c), each step an `lstm_cell`. The gates of the next step are
    carried into it (see the module's notes)."""
    steps = steps_of(x)

    def run(t, h, c, gates):
        if t >= steps:
            return (h, c)
        h_new, c_new = lstm_update(gates, c)
        later = min(t + 1, steps - 1)  # (the last step's next gates go unused)
        return run(t + 1, h_new, c_new,
                   lstm_gates(at_step(x, later), h_new, w_ih, w_hh, b_ih, b_hh))
    first = lstm_gates(at_step(x, 0), h0, w_ih, w_hh, b_ih, b_hh) if steps > 0 \
        else linear(h0, w_hh, b_hh)  # (no steps: unused)
    return run(0, h0, c0, first)


# -- every hidden state ---------------------------------------------------------------------
# `rnn_sequence`, `gru_sequence`, `lstm_sequence`: the same recurrences, returning every
# hidden state (batch, steps, H) (torch's `output`), for stacked layers and models that read
# each step. Their steps run under `iterate`, whose states are the outputs; its derivative
# reads them backwards (cupar's adjoint of `iterate`). The state carries the next product
# of h as the loops above do.

@parallel
def batch_first(hs):
    """States (steps + 1, batch, H), the first the initial one, as (batch, steps, H)."""
    steps = len(hs) - 1
    if steps <= 0:  # (batch, 0, H), rows made from the initial state's rows
        return map(lambda r: map(lambda t: r, range(0)), hs[0])
    batch = len(hs[0])
    order = map(lambda k: (k % steps + 1) * batch + k // steps, range(batch * steps))
    return split(gather(join(hs), order), steps)


@parallel
def rnn_sequence(x, h0, w_ih, w_hh, b_ih, b_hh):
    """Every hidden state of `rnn` (batch, steps, H)."""
    def step(s):
        t, h, c = s
        h_new = map(lambda a, crow: map(lambda u, v: tanh(u + v), a, crow),
                    linear(at_step(x, t), w_ih, b_ih), c)
        return (t + 1, h_new, linear(h_new, w_hh, b_hh))
    ts, hs, cs = unzip(iterate(step, (0, h0, linear(h0, w_hh, b_hh)), steps_of(x) + 1))
    return batch_first(hs)


@parallel
def gru_sequence(x, h0, w_ih, w_hh, b_ih, b_hh):
    """Every hidden state of `gru` (batch, steps, H)."""
    def step(s):
        t, h, c = s
        h_new = gru_update(linear(at_step(x, t), w_ih, b_ih), c, h)
        return (t + 1, h_new, linear(h_new, w_hh, b_hh))
    ts, hs, cs = unzip(iterate(step, (0, h0, linear(h0, w_hh, b_hh)), steps_of(x) + 1))
    return batch_first(hs)


@parallel
def lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """Every hidden state h of `lstm` (batch, steps, H) (the cell states are not kept)."""
    steps = steps_of(x)

    def step(s):
        t, h, c, gates = s
        h_new, c_new = lstm_update(gates, c)
        later = min(t + 1, steps - 1)  # (the last step's next gates go unused)
        return (t + 1, h_new, c_new,
                lstm_gates(at_step(x, later), h_new, w_ih, w_hh, b_ih, b_hh))
    first = lstm_gates(at_step(x, 0), h0, w_ih, w_hh, b_ih, b_hh) if steps > 0 \
        else linear(h0, w_hh, b_hh)  # (no steps: unused)
    ts, hs, cs, gs = unzip(iterate(step, (0, h0, c0, first), steps + 1))
    return batch_first(hs)
