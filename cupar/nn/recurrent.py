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
weights. The recurrence is a tail-recursive loop over time; the weights are cut per gate
once, before it, and each step takes one product of x_t and one of h per gate and combines
the gates elementwise (whole rows zipped: no reads at offsets, so the derived backward step
has no scatters). Its derivative records the hidden states as the loop runs and reads them
backwards (autodiff_loops.py).

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
    hidden = len(w_hh)

    def row(a, c, hrow):
        s = map(op_add, a, c)  # r's and z's pre-activations (n's part of it goes unused)

        def unit(j):
            r = sigmoid1(s[j])
            z = sigmoid1(s[hidden + j])
            n = tanh(a[2 * hidden + j] + r * c[2 * hidden + j])
            return (1.0 - z) * n + z * hrow[j]
        return map(unit, range(hidden))
    return map(row, linear(x, w_ih, b_ih), linear(h, w_hh, b_hh), h)


@parallel
def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """torch's `LSTMCell`, returning (h', c'): i, f, o = sigmoid of their gates,
    g = tanh of its gate, c' = f c + i g, h' = o tanh(c')."""
    hidden = len(w_hh)
    gates = map(lambda a, b: map(op_add, a, b), linear(x, w_ih, b_ih), linear(h, w_hh, b_hh))

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
def columns(m, first, n):
    """Columns first .. first + n - 1 of the matrix m (a gate's part of a product)."""
    return map(lambda row: map(lambda j: row[first + j], range(n)), m)


@parallel
def part(v, first, n):
    """Elements first .. first + n - 1 of the vector v."""
    return map(lambda j: v[first + j], range(n))


@parallel
def steps_of(x):
    return len(x[0]) if len(x) > 0 else 0


@parallel
def gru_unit(ar, az, an, cr, cz, cn, hv):
    """One hidden unit of a GRU step from its gates' input (a) and hidden (c) parts."""
    r = sigmoid1(ar + cr)
    z = sigmoid1(az + cz)
    n = tanh(an + r * cn)
    return (1.0 - z) * n + z * hv


@parallel
def at_step(x, t):
    """The inputs of time step t, (batch, in), of x (batch, steps, in)."""
    return map(lambda row: row[t], x)


@parallel
def rnn(x, h0, w_ih, w_hh, b_ih, b_hh):
    """torch's `RNN` (tanh, one layer, batch_first) over x (batch, steps, in) from h0
    (batch, H): the last hidden state, h' = tanh(x_t w_ih + b_ih + h w_hh + b_hh)."""
    steps = steps_of(x)

    def run(t, h):
        if t >= steps:
            return h
        return run(t + 1, map(lambda a, c: map(lambda u, v: tanh(u + v), a, c),
                              linear(at_step(x, t), w_ih, b_ih), linear(h, w_hh, b_hh)))
    return run(0, h0)


@parallel
def gru(x, h0, w_ih, w_hh, b_ih, b_hh):
    """torch's `GRU` (one layer, batch_first) over x (batch, steps, in) from h0 (batch, H):
    the last hidden state. Gates r, z, n as in `gru_cell`."""
    hidden = len(w_hh)
    steps = steps_of(x)
    ur, uz, un = columns(w_ih, 0, hidden), columns(w_ih, hidden, hidden), \
        columns(w_ih, 2 * hidden, hidden)
    cr, cz, cn = part(b_ih, 0, hidden), part(b_ih, hidden, hidden), \
        part(b_ih, 2 * hidden, hidden)
    wr, wz, wn = columns(w_hh, 0, hidden), columns(w_hh, hidden, hidden), \
        columns(w_hh, 2 * hidden, hidden)
    br, bz, bn = part(b_hh, 0, hidden), part(b_hh, hidden, hidden), \
        part(b_hh, 2 * hidden, hidden)

    def run(t, h):
        if t >= steps:
            return h
        xt = at_step(x, t)
        return run(t + 1, map(lambda a, b, c, d, e, f, g: map(gru_unit, a, b, c, d, e, f, g),
                              linear(xt, ur, cr), linear(xt, uz, cz), linear(xt, un, cn),
                              linear(h, wr, br), linear(h, wz, bz), linear(h, wn, bn), h))
    return run(0, h0)


@parallel
def lstm_cell_unit(ai, af, ag, ci, cf, cg, cv):
    """One unit's new cell state from its gates' input (a) and hidden (c) parts."""
    return sigmoid1(af + cf) * cv + sigmoid1(ai + ci) * tanh(ag + cg)


@parallel
def lstm_hidden_unit(ao, co, cv):
    return sigmoid1(ao + co) * tanh(cv)


@parallel
def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """torch's `LSTM` (one layer, batch_first) over x (batch, steps, in) from h0 and c0
    (batch, H): the last (h, c). Gates i, f, g, o as in `lstm_cell`."""
    hidden = len(w_hh)
    steps = steps_of(x)
    ui, uf, ug, uo = (columns(w_ih, 0, hidden), columns(w_ih, hidden, hidden),
                      columns(w_ih, 2 * hidden, hidden), columns(w_ih, 3 * hidden, hidden))
    ci, cf, cg, co = (part(b_ih, 0, hidden), part(b_ih, hidden, hidden),
                      part(b_ih, 2 * hidden, hidden), part(b_ih, 3 * hidden, hidden))
    wi, wf, wg, wo = (columns(w_hh, 0, hidden), columns(w_hh, hidden, hidden),
                      columns(w_hh, 2 * hidden, hidden), columns(w_hh, 3 * hidden, hidden))
    bi, bf, bg, bo = (part(b_hh, 0, hidden), part(b_hh, hidden, hidden),
                      part(b_hh, 2 * hidden, hidden), part(b_hh, 3 * hidden, hidden))

    def run(t, h, c):
        if t >= steps:
            return (h, c)
        xt = at_step(x, t)
        c_new = map(lambda a, b, d, e, f, g, k: map(lstm_cell_unit, a, b, d, e, f, g, k),
                    linear(xt, ui, ci), linear(xt, uf, cf), linear(xt, ug, cg),
                    linear(h, wi, bi), linear(h, wf, bf), linear(h, wg, bg), c)
        h_new = map(lambda a, b, d: map(lstm_hidden_unit, a, b, d), linear(xt, uo, co),
                    linear(h, wo, bo), c_new)
        return run(t + 1, h_new, c_new)
    return run(0, h0, c0)
