"""How `cupar.nn.functional.conv2d` is formulated: im2col (the patches gathered into a matrix
and multiplied by the weights with `matmul`) or a direct nested map (each output pixel a sum
over its taps). Times the forward pass and value_and_grad of a scalar of it with respect to
the weights and bias, at cpu, float32, at the digits CNN's sizes (batch 32: 1x8x8 input into
16 3x3 filters, then 16x8x8 into 32 3x3 filters, padding 1); the fastest and the median of
many calls after warm-up, interleaved, as the development machine is shared.

    python benchmarks/nn_conv_layout.py
"""

import sys
import time

import numpy as np

import cupar
import cupar.nn.functional as F
from cupar import *  # noqa: F401,F403


@parallel
def direct(x, w, b, stride, padding):
    """Each output pixel a sum over its in-channels and taps, reading x in place."""
    height, width = len(x[0][0]), len(x[0][0][0])
    cin, kh, kw = len(w[0]), len(w[0][0]), len(w[0][0][0])
    oh = (height + 2 * padding - kh) // stride + 1
    ow = (width + 2 * padding - kw) // stride + 1

    def image(img):
        def channel(wo, bo):
            def pixel(i, j):
                def tap(c, di, dj):
                    r = i * stride + di - padding
                    s = j * stride + dj - padding
                    inside = r >= 0 and r < height and s >= 0 and s < width
                    return img[c][r][s] * wo[c][di][dj] if inside else 0.0 * bo
                return bo + sum(map(lambda c: sum(map(lambda di: sum(map(
                    lambda dj: tap(c, di, dj), range(kw))), range(kh))), range(cin)))
            return map(lambda i: map(lambda j: pixel(i, j), range(ow)), range(oh))
        return map(channel, w, b)
    return map(image, x)


im2col = F.conv2d  # the patches as rows, times the weights: see cupar/nn/conv.py


@parallel
def squares(y):
    """sum(y * y) of an NCHW batch: a scalar every output element feeds."""
    return sum(map(lambda img: sum(map(lambda ch: sum(map(lambda row: sum(map(
        lambda v: v * v, row)), ch)), img)), y))


@parallel
def loss_direct(w, b, x):
    return squares(direct(x, w, b, 1, 1))


@parallel
def loss_im2col(w, b, x):
    return squares(im2col(x, w, b, 1, 1))


def timings_us(calls, repeats=200):
    """The fastest and the median time of each call in microseconds, the calls interleaved,
    after a warm-up call each (which compiles)."""
    times = [[] for _ in calls]
    for fn, args in calls:
        fn(*args)
    for _ in range(repeats):
        for k, (fn, args) in enumerate(calls):
            t = time.perf_counter()
            fn(*args)
            times[k].append(time.perf_counter() - t)
    return [(min(t) * 1e6, float(np.median(t)) * 1e6) for t in times]


def main():
    rng = np.random.default_rng(0)
    direct_grad = "--direct-grad" in sys.argv  # (compiling it takes longer than 12 minutes)
    print("layer          |  direct fwd  |  im2col fwd  | direct grad  | im2col grad  "
          "[us, fastest / median]")
    for cin, cout in ((1, 16), (16, 32)):
        x = rng.standard_normal((32, cin, 8, 8)).astype(np.float32)
        w = (rng.standard_normal((cout, cin, 3, 3)) / (3 * cin ** 0.5)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        one, pad = np.int64(1), np.int64(1)
        assert np.allclose(direct(x, w, b, one, pad), im2col(x, w, b, one, pad), atol=1e-5)
        calls = [(direct, (x, w, b, one, pad)), (im2col, (x, w, b, one, pad)),
                 (cupar.value_and_grad(loss_direct, (0, 1)), (w, b, x)),
                 (cupar.value_and_grad(loss_im2col, (0, 1)), (w, b, x))]
        if not direct_grad:
            calls[2] = (lambda *args: None, ())
        times = timings_us(calls)
        print(f"{cin:2d}x8x8 -> {cout:2d}x8x8 | "
              + " | ".join(f"{lo:5.0f} / {mid:5.0f}" for lo, mid in times))


if __name__ == "__main__":
    main()
