"""Losses as `@parallel` functions, each the mean over a batch, with torch's names.

    import numpy as np
    from cupar.nn.losses import cross_entropy

    logits = np.zeros((4, 10), np.float32)
    labels = np.array([1, 2, 3, 4])
    cross_entropy(logits, labels, 0.0)        # log(10), a float32

Labels are integers indexing a row, with Python's meaning: a label of at least the number
of classes is a located `CuparIndexError`, and a negative one counts from the end (torch
refuses it).
"""

from cupar import *  # noqa: F401,F403

from .activations import logsumexp_row, softplus1


@parallel
def cross_entropy(logits, labels, label_smoothing):
    """The mean over the batch of -log softmax(row)[label], from logits (computed stably,
    through logsumexp). With label smoothing e (torch's `label_smoothing`, 0.0 for none) the
    target is (1 - e) one-hot + e uniform: (1 - e) nll + e (mean of -log softmax(row))."""
    def row_loss(row, label):
        lse = logsumexp_row(row)
        nll = lse - row[label]
        uniform = lse - sum(row) / len(row)
        return (1.0 - label_smoothing) * nll + label_smoothing * uniform
    return sum(map(row_loss, logits, labels)) / len(labels)


@parallel
def cross_entropy_plain(logits, labels):
    """`cross_entropy` without label smoothing: the same value, with no pass over each row
    for the uniform part (forward, and its derivative backward); nn.CrossEntropyLoss()
    trains with it."""
    return sum(map(lambda row, label: logsumexp_row(row) - row[label], logits,
                   labels)) / len(labels)


@parallel
def nll_loss(log_probs, labels):
    """-mean(log_probs[i, labels[i]]): the loss of rows that are already log-probabilities
    (from `log_softmax`)."""
    return -sum(map(lambda row, label: row[label], log_probs, labels)) / len(labels)


@parallel
def mse_loss(x, target):
    """The mean of (x - target)^2 over every element of two batches of one shape."""
    def row_mean(a, t):
        return sum(map(lambda u, v: (u - v) * (u - v), a, t)) / len(a)
    return sum(map(row_mean, x, target)) / len(x)


@parallel
def binary_cross_entropy_with_logits(logits, targets):
    """The mean over every element of -[t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))],
    computed stably from the logits z as softplus(z) - t z."""
    def row_mean(zs, ts):
        return sum(map(lambda z, t: softplus1(z) - t * z, zs, ts)) / len(zs)
    return sum(map(row_mean, logits, targets)) / len(logits)


@parallel
def correct_rows(scores, labels):
    """How many rows score their label highest (a tie with the maximum counts as right):
    the accuracy's numerator, computed in the training step itself."""
    return sum(map(lambda row, label: 1 if row[label] >= max(row) else 0, scores, labels))
