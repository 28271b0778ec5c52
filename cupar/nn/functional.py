"""`cupar.nn.functional`: every layer, activation and loss of `cupar.nn` as a `@parallel`
function over plain arrays, under torch's names (`import cupar.nn.functional as F`).

A batch is a 2-D array, a sequence of rows; a batch of images (convolutions, pooling,
`batch_norm2d`) a 4-D array in torch's NCHW layout. Each function is an ordinary cupar program: it
runs at any place, composes inside a user's `@parallel` function (so a whole training step
compiles to one program), and `cupar.grad` derives its gradients. Options (a slope, an
epsilon, the training flag, label smoothing) are ordinary number arguments, so one compiled
program serves every value; cupar functions take no default values, so pass torch's
defaults yourself (`leaky_relu(x, 0.01)`, `layer_norm(x, w, b, 1e-5)`,
`cross_entropy(logits, labels, 0.0)`).

    import numpy as np
    import cupar
    import cupar.nn.functional as F
    from cupar import parallel

    @parallel
    def loss(w, b, x, labels):
        return F.cross_entropy(F.linear(x, w, b), labels, 0.0)

    dw, db = cupar.grad(loss, argnums=(0, 1))(w, b, x, labels)

Weights are stored (in, out): `linear(x, w, b)` is `matmul(x, w) + b`, and torch's
`F.linear(x, W, b)` is `F.linear(x, W.T, b)` here (the faster layout; see `layers.py`).
"""

from .activations import (  # noqa: F401
    gelu, gelu1, leaky_relu, leaky_relu1, log_softmax, logsumexp_row, relu, relu1, sigmoid,
    sigmoid1, softmax, softplus1,
)
from .activations import tanh_ as tanh  # noqa: F401  (the batch tanh; the prelude's is scalar)
from .conv import (avg_pool2d, avg_pool2d_padded, avg_pool2d_rows, conv1d,  # noqa: F401
                   conv2d, conv2d_rows, conv2d_rows_sized, max_pool2d, max_pool2d_padded,
                   max_pool2d_rows, nchw_rows, rows_flatten, rows_nchw)
from .layers import (dropout, dropout3, dropout4, dropout_flat, embedding,  # noqa: F401
                     flatten, flatten4, flatten_all, layer_norm, linear, linear_steps,
                     matmul_steps, shaped_like)
from .losses import (  # noqa: F401
    binary_cross_entropy_with_logits, correct_rows, cross_entropy, cross_entropy_plain,
    mse_loss, nll_loss,
)
from .norm import batch_norm, batch_norm2d  # noqa: F401
from .recurrent import (gru, gru_cell, gru_sequence, lstm, lstm_cell,  # noqa: F401
                        lstm_sequence, rnn, rnn_cell, rnn_sequence)

__all__ = [
    "linear", "flatten", "dropout", "dropout_flat", "dropout3", "dropout4", "layer_norm",
    "embedding",
    "conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool2d_padded",
    "avg_pool2d_padded", "batch_norm", "batch_norm2d",
    "conv2d_rows", "conv2d_rows_sized", "max_pool2d_rows", "avg_pool2d_rows", "nchw_rows",
    "rows_nchw", "rows_flatten",
    "relu", "leaky_relu", "gelu", "tanh", "sigmoid", "softmax", "log_softmax",
    "rnn_cell", "gru_cell", "lstm_cell", "rnn", "gru", "lstm", "rnn_sequence", "gru_sequence",
    "lstm_sequence", "linear_steps", "matmul_steps",
    "cross_entropy", "cross_entropy_plain", "nll_loss", "mse_loss",
    "binary_cross_entropy_with_logits", "correct_rows",
    "relu1", "leaky_relu1", "gelu1", "sigmoid1", "softplus1", "logsumexp_row",
]
