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

Both products are taken for all gates at once (one matrix product each); a row's gates are
then read from its product rows at offsets j, H + j, ...
"""

from cupar import *  # noqa: F401,F403

from .activations import sigmoid1


@parallel
def rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """h' = tanh(x w_ih + b_ih + h w_hh + b_hh): torch's `RNNCell` with tanh."""
    def row(a, c):
        return map(lambda u, v, bi, bh: tanh(u + bi + v + bh), a, c, b_ih, b_hh)
    return map(row, matmul(x, w_ih), matmul(h, w_hh))


@parallel
def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """torch's `GRUCell`: r = sigmoid(x W_ir + b_ir + h W_hr + b_hr), z likewise,
    n = tanh(x W_in + b_in + r (h W_hn + b_hn)), h' = (1 - z) n + z h."""
    hidden = len(w_hh)

    def row(a, c, hrow):
        def unit(j):
            r = sigmoid1(a[j] + b_ih[j] + c[j] + b_hh[j])
            k = hidden + j
            z = sigmoid1(a[k] + b_ih[k] + c[k] + b_hh[k])
            m = 2 * hidden + j
            n = tanh(a[m] + b_ih[m] + r * (c[m] + b_hh[m]))
            return (1.0 - z) * n + z * hrow[j]
        return map(unit, range(hidden))
    return map(row, matmul(x, w_ih), matmul(h, w_hh), h)


@parallel
def lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh):
    """The four gates' pre-activations of every row, side by side (batch, 4 H)."""
    def row(a, c):
        return map(lambda u, v, bi, bh: u + bi + v + bh, a, c, b_ih, b_hh)
    return map(row, matmul(x, w_ih), matmul(h, w_hh))


@parallel
def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """torch's `LSTMCell`, returning (h', c'): i, f, o = sigmoid of their gates,
    g = tanh of its gate, c' = f c + i g, h' = o tanh(c')."""
    hidden = len(w_hh)
    gates = lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh)

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
