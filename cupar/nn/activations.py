"""Activations as `@parallel` functions: of one number (`relu1`, `sigmoid1`, ...: for use
inside a user's own `map`) and of a batch (a 2-D array, a sequence of rows).

    import numpy as np
    from cupar.nn.activations import relu, softmax

    relu(np.array([[-1.0, 2.0]]))       # [[0., 2.]]
    softmax(np.zeros((1, 4)))           # [[0.25, 0.25, 0.25, 0.25]]

The batch tanh is `tanh_` here (the prelude's scalar `tanh` keeps its name inside this
module's programs); `cupar.nn.functional` exports it as `tanh`.
"""

from cupar import *  # noqa: F401,F403
from cupar.dsl.operators import sigmoid as logistic  # (this module's `sigmoid` is the batch's)

SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi), for gelu's tanh approximation
GELU_CUBIC = 0.044715


# -- elementwise, one number ---------------------------------------------------------------

@parallel
def relu1(v):
    """max(v, 0) of one number: `map(relu1, row)`."""
    return maximum(v, 0.0)


@parallel
def leaky_relu1(v, negative_slope):
    """v where v >= 0, else negative_slope * v."""
    return v if v >= 0.0 else v * negative_slope


@parallel
def gelu1(v):
    """GELU by its tanh approximation (torch's `approximate='tanh'`)."""
    return 0.5 * v * (1.0 + tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)))


@parallel
def sigmoid1(v):
    """1 / (1 + e^-v) of one number: the prelude's `sigmoid` (exp taken of -|v| only, so
    it never overflows; its derivative s (1 - s)). As the formula written here, with a
    select of e / (1 + e) for v < 0, the derived backward step of an LSTM took a division
    and a dozen operations more per gate."""
    return logistic(v)


@parallel
def softplus1(v):
    """log(1 + e^v), stably: max(v, 0) + log(1 + e^-|v|)."""
    return maximum(v, 0.0) + log(1.0 + exp(-abs(v)))


# -- activations of a batch ----------------------------------------------------------------

@parallel
def relu(x):
    """max(x, 0) elementwise over a batch: `relu(np.array([[-1.0, 2.0]]))` is [[0, 2]]."""
    return map(lambda row: map(relu1, row), x)


@parallel
def leaky_relu(x, negative_slope):
    """x where x >= 0, else negative_slope * x (torch's default slope is 0.01)."""
    return map(lambda row: map(lambda v: leaky_relu1(v, negative_slope), row), x)


@parallel
def gelu(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) elementwise over a batch."""
    return map(lambda row: map(gelu1, row), x)


@parallel
def tanh_(x):
    """tanh elementwise over a batch (exported as `tanh`; the prelude's `tanh` is scalar)."""
    return map(lambda row: map(lambda v: tanh(v), row), x)


@parallel
def sigmoid(x):
    """1 / (1 + e^-x) elementwise over a batch, stable for large |x|."""
    return map(lambda row: map(sigmoid1, row), x)


@parallel
def softmax(x):
    """Each row's softmax, its maximum subtracted first so that exp cannot overflow:
    `softmax(np.zeros((1, 4)))` is [[0.25, 0.25, 0.25, 0.25]]."""
    def row_softmax(row):
        m = stop_gradient(max(row))  # (the result does not depend on it)
        e = map(lambda v: exp(v - m), row)
        z = sum(e)
        return map(lambda v: v / z, e)
    return map(row_softmax, x)


@parallel
def logsumexp_row(row):
    """log(sum(exp(row))) of one row, its maximum subtracted first (and added back: the
    result does not depend on it, so no derivative flows through it, as in torch's)."""
    m = stop_gradient(max(row))
    return log(sum(map(lambda v: exp(v - m), row))) + m


@parallel
def log_softmax(x):
    """Each row's log-softmax, x - logsumexp(x), computed stably (max subtracted)."""
    def row_log_softmax(row):
        lse = logsumexp_row(row)
        return map(lambda v: v - lse, row)
    return map(row_log_softmax, x)
