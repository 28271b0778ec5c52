"""cupar programs of the gradient benchmarks, written as a user would."""

# ruff: noqa: F403, F405  (the prelude comes in through the star import, as users write it)
from cupar import *


@parallel
def mlp_loss(w1, b1, w2, b2, x, labels):
    """Mean softmax cross-entropy of a two-layer ReLU network's logits."""
    h = map(lambda row: map(lambda v, bi: maximum(v + bi, 0.0), row, b1), matmul(x, w1))
    logits = map(lambda row: map(op_add, row, b2), matmul(h, w2))

    def row_loss(row, label):
        m = max(row)
        z = sum(map(lambda v: exp(v - m), row))
        return log(z) + m - row[label]
    return sum(map(row_loss, logits, labels)) / float32(len(labels))
