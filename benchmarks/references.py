"""NumPy references: the vectorised code a NumPy user writes.

The functions take the array module as `xp` (NumPy by default) wherever the same code also
runs unchanged on CuPy, so that the GPU benchmarks time the CuPy user's code, not a port.
"""

import numpy as np


def np_cnd(d, xp=np):
    k = 1.0 / (1.0 + 0.2316419 * xp.abs(d))
    poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 +
                                                      k * (-1.821255978 + k * 1.330274429))))
    tail = 0.3989422804014327 * xp.exp(-0.5 * d * d) * poly
    return xp.where(d > 0, 1.0 - tail, tail)


def np_black_scholes(s, x, t, r, v, xp=np):
    sqrt_t = xp.sqrt(t)
    d1 = (xp.log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    discounted = x * xp.exp(-r * t)
    c1, c2 = np_cnd(d1, xp), np_cnd(d2, xp)
    return s * c1 - discounted * c2, discounted * (1.0 - c2) - s * (1.0 - c1)


def np_permute(x, idx, xp=np):
    out = xp.empty_like(x)
    out[idx] = x
    return out


def np_spmv(values, columns, offsets, x):
    """NumPy has no sparse matrices; scipy's and CuPy's are timed as separate columns."""
    starts, ends = offsets[:-1], offsets[1:]
    filled = starts < ends  # reduceat gives an element, not 0, for an empty row
    y = np.zeros(len(starts), values.dtype)
    y[filled] = np.add.reduceat(values * x[columns], starts[filled])
    return y


def np_softmax(m, xp=np):
    e = xp.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def np_mandelbrot(cr, ci, limit, xp=np):
    """Iterates every pixel `limit` times: the price of vectorising a per-pixel loop."""
    zr, zi = xp.zeros_like(cr), xp.zeros_like(ci)
    counts = xp.zeros(cr.shape, dtype=np.int64)
    for k in range(limit):
        live = zr * zr + zi * zi <= 4.0
        counts[live] = k + 1
        zr, zi = (xp.where(live, zr * zr - zi * zi + cr, zr),
                  xp.where(live, 2.0 * zr * zi + ci, zi))
    return counts
