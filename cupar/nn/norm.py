"""Batch normalisation as `@parallel` functions with torch's semantics: `batch_norm` over a
batch of rows (batch, features), `batch_norm2d` over a batch of NCHW images (statistics per
channel, over the batch, height and width).

    import numpy as np
    from cupar.nn.norm import batch_norm

    x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    y, mean, var = batch_norm(x, zeros, ones, ones, zeros, True, 0.1, 1e-5)

A cupar function returns values and mutates nothing, so both return `(y, running_mean,
running_var)`: in training, y is normalised with the batch's statistics (the biased
variance) and the running statistics are updated as torch updates them, running = (1 -
momentum) running + momentum batch (the unbiased variance for running_var); in eval, y
uses the running statistics, returned unchanged. `cupar.grad` of a loss of y alone works
(the statistics simply receive no cotangent).
"""

from cupar import *  # noqa: F401,F403


@parallel
def normalised(x, mean, var, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias, feature by feature, for a batch of
    rows."""
    inv = map(lambda v: 1.0 / sqrt(v + eps), var)
    return map(lambda row: map(lambda v, m, s, g, b: (v - m) * s * g + b,
                               row, mean, inv, weight, bias), x)


@parallel
def updated(running, batch_stat, momentum):
    """(1 - momentum) running + momentum batch_stat, elementwise."""
    return map(lambda r, s: (1.0 - momentum) * r + momentum * s, running, batch_stat)


@parallel
def batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """torch's `F.batch_norm` over a batch of rows (batch, features), returning
    `(y, running_mean, running_var)` (see the module's docstring)."""
    if training:
        n = len(x)
        columns = transpose(x)
        mean = map(lambda col: sum(col) / n, columns)
        var = map(lambda col, m: sum(map(lambda v: (v - m) * (v - m), col)) / n,
                  columns, mean)
        unbiased = map(lambda v: v * n / (n - 1) if n > 1 else v, var)
        return (normalised(x, mean, var, weight, bias, eps),
                updated(running_mean, mean, momentum), updated(running_var, unbiased, momentum))
    return (normalised(x, running_mean, running_var, weight, bias, eps), running_mean,
            running_var)


@parallel
def channel_sums(x, shift, square):
    """Per channel, the sum over the batch, height and width of (value - shift[c]), squared
    when `square`: a (channels,) sequence, from per-image sums (every read structural)."""
    def plane(ch, m):
        return sum(map(lambda row: sum(map(
            lambda v: (v - m) * (v - m) if square else v - m, row)), ch))
    return map(lambda col: sum(col), transpose(map(lambda img: map(plane, img, shift), x)))


@parallel
def batch_norm2d(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """torch's `F.batch_norm` over a batch of NCHW images: each channel normalised with the
    statistics of its values over the batch, height and width. Returns `(y, running_mean,
    running_var)` as `batch_norm` does."""
    if training:
        n = len(x) * len(x[0][0]) * len(x[0][0][0]) if len(x) > 0 else 0
        mean = map(lambda s: s / n, channel_sums(x, map(lambda g: 0.0 * g, weight), False))
        var = map(lambda s: s / n, channel_sums(x, mean, True))
        unbiased = map(lambda v: v * n / (n - 1) if n > 1 else v, var)
        return (normalised_images(x, mean, var, weight, bias, eps),
                updated(running_mean, mean, momentum), updated(running_var, unbiased, momentum))
    return (normalised_images(x, running_mean, running_var, weight, bias, eps), running_mean,
            running_var)


@parallel
def normalised_images(x, mean, var, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias, channel by channel, for NCHW images."""
    inv = map(lambda v: 1.0 / sqrt(v + eps), var)
    return map(lambda img: map(lambda ch, m, s, g, b: map(lambda row: map(
        lambda v: (v - m) * s * g + b, row), ch), img, mean, inv, weight, bias), x)
