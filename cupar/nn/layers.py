"""Layers without recurrence, as `@parallel` functions over a batch (a 2-D array, a sequence
of rows): `linear`, `flatten`, `dropout`, `layer_norm`, `embedding`.

    import numpy as np
    from cupar.nn.layers import linear

    x = np.ones((32, 784), np.float32)
    w = np.zeros((784, 256), np.float32)         # (in, out): x @ w, unlike torch's (out, in)
    linear(x, w, np.zeros(256, np.float32))      # float32 (32, 256)

Weight matrices are stored (in, out), so a layer is `matmul(x, w)` with no transposition:
measured at batch 32 and 256 with 784 x 256 weights, that is faster than torch's (out, in)
with `matmul(x, transpose(w))`, whose transposed right operand is copied into rows first,
in the forward pass and again in the backward. `benchmarks/nn_linear_layout.py`, fastest of
300 calls, float32, at cpu on the 2-core development machine: forward 63 vs 174 us at
batch 32 and 412 vs 464 us at batch 256; the gradient (weights and bias) 251 vs 441 us and
839 vs 1092 us.
"""

from cupar import *  # noqa: F401,F403


# -- layers-----------------------------------------------------------------------------

@parallel
def linear(x, w, b):
    """x (batch, in) times w (in, out), plus b (out,): `matmul(x, w) + b`.

    The weights are stored (in, out), the transpose of torch's `F.linear` layout
    (torch's `F.linear(x, W, b)` is `linear(x, W.T, b)` here). The bias add runs inside the
    product's kernel at cpu. `linear(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))` is a
    2 x 4 array of 3s."""
    return map(lambda row: map(lambda v, bi: v + bi, row, b), matmul(x, w))


@parallel
def per_step(rows, x):
    """(batch * steps, n) rows, one per step of x (batch, steps, ...), as (batch, steps, n)."""
    steps = len(x[0]) if len(x) > 0 else 0
    if steps == 0:  # (split needs rows of positive length)
        return map(lambda s: map(lambda t: rows[0], range(0)), x)
    return split(rows, steps)


@parallel
def linear_steps(x, w, b):
    """`linear` at every step of x (batch, steps, in): (batch, steps, out), one product."""
    return per_step(linear(join(x), w, b), x)


@parallel
def matmul_steps(x, w):
    """matmul(x_t, w) at every step of x (batch, steps, in), one product."""
    return per_step(matmul(join(x), w), x)


@parallel
def flatten(x):
    """A batch of matrices (batch, h, w) as a batch of rows (batch, h * w), row-major.

    (A batch of rows is already flat: flatten it only where it has a third axis.) An empty
    batch gives a (0, 0) array: the row length is read from the first matrix."""
    # the row length is computed once, outside the map: cpu cannot yet allocate rows whose
    # length each element computes (an internal error), and an empty batch has no x[0]
    height = len(x[0]) if len(x) > 0 else 0
    width = len(x[0][0]) if height > 0 else 0
    size = height * width
    return map(lambda image: map(lambda k: image[k // width][k % width], range(size)), x)


@parallel
def dropout_hash(seed, k):
    """A 32-bit hash of (seed, k): two rounds of an xor-shift-multiply mixer, in int64
    arithmetic masked to 32 bits (products stay below 2^59, so nothing overflows)."""
    def mix(h):
        h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
        h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
        return h ^ (h >> 16)
    return mix((mix(int64(seed) & 0xFFFFFFFF) + int64(k)) & 0xFFFFFFFF)


@parallel
def dropout(x, p, training, seed):
    """Zero each element with probability p and scale the rest by 1 / (1 - p), in training;
    x unchanged when `training` is false or p is 0.

    The mask is a counter-based hash of (seed, row * width + column), so a seed gives the same
    mask at every place and in every run: `dropout(x, 0.5, True, step)` with the step number
    as the seed draws a fresh mask per step, reproducibly."""
    if training and p > 0.0:
        scale = 1.0 / (1.0 - p)

        def row_dropout(i, row):
            width = len(row)

            def keep(j, v):
                # the hash's top 24 bits as a uniform number in [0, 1)
                u = float64(dropout_hash(seed, i * width + j) >> 8) / 16777216.0
                return v * scale if u >= p else v * 0.0
            return map(keep, indices(row), row)
        return map(row_dropout, indices(x), x)
    return x


@parallel
def dropout_flat(v, p, training, seed):
    """`dropout` of a flat sequence: element k's mask is drawn from (seed, k), as element
    (i, j) of rows of width w is in `dropout` (k = i * w + j): flattening first gives the
    same mask."""
    if training and p > 0.0:
        scale = 1.0 / (1.0 - p)

        def keep(k, e):
            u = float64(dropout_hash(seed, k) >> 8) / 16777216.0
            return e * scale if u >= p else e * 0.0
        return map(keep, indices(v), v)
    return v


@parallel
def dropout3(x, p, training, seed):
    """`dropout` of a batch of matrices (batch, steps, features), each sample's numbers in
    row-major order numbered as one row (so the mask is `dropout`'s of `flatten(x)`)."""
    if len(x) == 0:  # (no numbers: nothing to drop, and no row to read the shape from)
        return x
    if len(x[0]) == 0 or len(x[0][0]) == 0:
        return x
    return split(split(dropout_flat(join(join(x)), p, training, seed), len(x[0][0])),
                 len(x[0]))


@parallel
def dropout4(x, p, training, seed):
    """`dropout` of a batch of NCHW images, numbered as `dropout3`'s (the mask is
    `dropout`'s of `flatten4(x)`)."""
    if len(x) == 0:
        return x
    if len(x[0]) == 0 or len(x[0][0]) == 0 or len(x[0][0][0]) == 0:
        return x
    return shaped_like(dropout_flat(flatten_all(x), p, training, seed), x)


@parallel
def layer_norm(x, weight, bias, eps):
    """Each row normalised to mean 0 and variance 1 (the biased variance, as torch), then
    scaled by `weight` and shifted by `bias` (both as long as a row): torch's
    `F.layer_norm(x, (width,), weight, bias, eps)`."""
    def row_norm(row):
        n = len(row)
        mean = sum(row) / n
        var = sum(map(lambda v: (v - mean) * (v - mean), row)) / n
        inv = 1.0 / sqrt(var + eps)
        return map(lambda v, g, b: (v - mean) * inv * g + b, row, weight, bias)
    return map(row_norm, x)


@parallel
def embedding(idx, weight):
    """The rows of `weight` (num_embeddings, dim) that the integers `idx` name: a gather of
    rows, torch's `F.embedding(idx, weight)`; its gradient is a scatter-add of rows."""
    return gather(weight, idx)


@parallel
def flatten_all(x):
    """Every element of a batch of NCHW images (batch, c, h, w) in one flat sequence, in
    row-major order (join only: index arithmetic, no copy)."""
    return join(join(join(x)))


@parallel
def shaped_like(flat, x):
    """A flat sequence back in the (batch, c, h, w) shape of x (the inverse of flatten_all):
    elementwise work on images runs flat, whose derived gradient stays flat too."""
    channels = len(x[0]) if len(x) > 0 else 1
    height = len(x[0][0]) if len(x) > 0 and channels > 0 else 1
    width = len(x[0][0][0]) if len(x) > 0 and channels > 0 and height > 0 else 1
    return split(split(split(flat, max(width, 1)), max(height, 1)), max(channels, 1))


@parallel
def flatten4(x):
    """A batch of NCHW images as a batch of rows (batch, c * h * w), torch's Flatten order."""
    size = len(x[0]) * len(x[0][0]) * len(x[0][0][0]) if len(x) > 0 else 1
    return split(flatten_all(x), max(size, 1))
