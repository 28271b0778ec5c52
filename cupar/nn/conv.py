"""Convolutions and pooling over batches of images in NCHW layout (a 4-D array: batch,
channels, height, width), as `@parallel` functions with torch's semantics: `conv2d`,
`conv1d`, `max_pool2d`, `avg_pool2d`.

    import numpy as np
    from cupar.nn.conv import conv2d

    x = np.ones((32, 1, 8, 8), np.float32)
    w = np.zeros((16, 1, 3, 3), np.float32)      # (out, in, kh, kw): torch's layout
    conv2d(x, w, np.zeros(16, np.float32), 1, 1) # float32 (32, 16, 8, 8)

A convolution is im2col: each output pixel's patch gathered from x joined flat into one row
of a (batch * oh * ow, cin * kh * kw) matrix, times the weights as (cin * kh * kw, cout),
the product's entries then gathered back into NCHW order and split into four axes. Its
gradient is so two matrix products and two scatter-adds, which `cupar.grad` derives. A
direct nested map (each output pixel a sum over its taps, reading x in place) is faster
forward, but its derived gradient scatters a whole adjoint of x per output element: compiling
it at cpu did not finish in 12 minutes, so im2col it is. `benchmarks/nn_conv_layout.py`,
float32 at cpu on the 2-core development machine (shared: load average 4 while measuring),
batch 32, 3x3 filters, padding 1, fastest / median of 200 calls, forward direct vs im2col:
1x8x8 -> 16x8x8 197 / 213 vs 525 / 553 us; 16x8x8 -> 32x8x8 8.5 / 12.4 vs 10.4 / 36 ms (a
quieter run: 4.1 vs 5.5 ms fastest). value_and_grad in the weights and bias with im2col:
1.2 / 1.3 ms and 15 / 53 ms. The im2col forward likely spends its time on index arithmetic
(about ten integer divisions per gathered value) rather than on the product (not profiled).

Every reshaping is `join` or `split` (index arithmetic, no copy; their adjoints are each
other), so nothing here reads an element of a 4-D array by index, whose adjoint would be a
dense scatter per read.
"""

from cupar import *  # noqa: F401,F403


@parallel
def window_sources(x, kh, kw, sh, sw, ph, pw):
    """For each output pixel of each image and channel-independent tap: the flat index into
    join(join(join(x))) that a (kh, kw) window with strides (sh, sw) and zero padding
    (ph, pw) reads, or -1 where the tap falls in the padding. Rows of taps, one row per
    (image, out-row, out-column), taps ordered (channel, di, dj) as torch's weights."""
    channels = len(x[0]) if len(x) > 0 else 0
    height = len(x[0][0]) if channels > 0 else 0
    width = len(x[0][0][0]) if height > 0 else 0
    oh = (height + 2 * ph - kh) // sh + 1
    ow = (width + 2 * pw - kw) // sw + 1
    area, taps, pixels = kh * kw, channels * kh * kw, oh * ow

    def source(k):
        p, t = k // taps, k % taps
        n, i, j = p // pixels, p % pixels // ow, p % ow
        c, di, dj = t // area, t % area // kw, t % kw
        r = i * sh + di - ph
        s = j * sw + dj - pw
        inside = r >= 0 and r < height and s >= 0 and s < width
        return ((n * channels + c) * height + r) * width + s if inside else -1
    return map(source, range(len(x) * pixels * taps))


@parallel
def patches(x, src, taps):
    """The (batch * oh * ow, taps) matrix of x's values at `window_sources`, 0 in padding."""
    values = gather(join(join(join(x))), map(lambda k: maximum(k, 0), src))
    return split(map(lambda v, k: v if k >= 0 else 0.0 * v, values, src), taps)


@parallel
def nchw(flat, batch, channels, oh, ow):
    """Rows (batch * oh * ow, channels), one per output pixel, as a (batch, channels, oh,
    ow) array: a gather into NCHW order, then split."""
    pixels = oh * ow
    order = map(lambda e: (e // (channels * pixels) * pixels + e % pixels) * channels
                + e // pixels % channels, range(batch * channels * pixels))
    return split(split(split(gather(join(flat), order), ow), oh), channels)


@parallel
def conv2d_strided(x, w, b, sh, sw, ph, pw):
    """`conv2d` with a stride and a padding per axis (height, width)."""
    # zip: x's channels must be w's in-channels (a located error, not a wrong read)
    cin = len(zip(x[0], w[0])) if len(x) > 0 else len(w[0])
    cout, kh, kw = len(w), len(w[0][0]), len(w[0][0][0])
    height = len(x[0][0]) if len(x) > 0 else 0
    width = len(x[0][0][0]) if len(x) > 0 else 0
    oh = (height + 2 * ph - kh) // sh + 1
    ow = (width + 2 * pw - kw) // sw + 1
    taps = cin * kh * kw
    cols = patches(x, window_sources(x, kh, kw, sh, sw, ph, pw), taps)
    prod = matmul(cols, transpose(split(join(join(join(w))), taps)))
    out = nchw(prod, len(x), cout, oh, ow)
    # the bias added last, where each output is stored (a row of bias sums per pixel would
    # be stored first)
    return map(lambda img: map(lambda ch, bo: map(lambda row: map(
        lambda v: v + bo, row), ch), img, b), out)


@parallel
def conv2d(x, w, b, stride, padding):
    """torch's `F.conv2d(x, w, b, stride, padding)`: x (batch, cin, h, w), w (cout, cin, kh,
    kw), b (cout,); the result (batch, cout, oh, ow), oh = (h + 2 padding - kh) // stride
    + 1, with zero padding. `conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)),
    np.zeros(1), 1, 1)[0, 0]` is [[4, 6, 4], [6, 9, 6], [4, 6, 4]]."""
    return conv2d_strided(x, w, b, stride, stride, padding, padding)


@parallel
def conv1d(x, w, b, stride, padding):
    """torch's `F.conv1d(x, w, b, stride, padding)`: x (batch, cin, length), w (cout, cin,
    k), b (cout,); the result (batch, cout, (length + 2 padding - k) // stride + 1). Each
    sequence is an image of one row: `conv2d_strided` padding only along it. (Every reshape
    is of the whole array, outside any map: a `split` inside one stores its rows per
    element, which gpu0 cannot allocate in a kernel.)"""
    def one_row(a):  # (n, c, l) -> (n, c, 1, l)
        length = len(a[0][0]) if len(a) > 0 and len(a[0]) > 0 else 1
        channels = len(a[0]) if len(a) > 0 else 1
        return split(split(split(join(join(a)), length), 1), channels)
    length = len(x[0][0]) if len(x) > 0 and len(x[0]) > 0 else 0
    out_length = (length + 2 * padding - len(w[0][0])) // stride + 1
    y = conv2d_strided(one_row(x), one_row(w), b, 1, stride, 0, padding)
    return split(split(join(join(join(y))), out_length), len(w))


@parallel
def pool_windows(x, kernel, stride):
    """Each (kernel, kernel) window with the given stride, per image and channel, as rows of
    kernel * kernel values: ((batch * channels) * oh * ow, kernel^2), ordered as NCHW."""
    # the channels as images of one channel: windows never cross channels
    planes = split(join(x), 1)
    return patches(planes, window_sources(planes, kernel, kernel, stride, stride, 0, 0),
                   kernel * kernel)


@parallel
def pooled(x, values, kernel, stride):
    """One value per window (`values`, in NCHW order) as a (batch, channels, oh, ow) array."""
    height = len(x[0][0]) if len(x) > 0 and len(x[0]) > 0 else 0
    width = len(x[0][0][0]) if height > 0 else 0
    oh = (height - kernel) // stride + 1
    ow = (width - kernel) // stride + 1
    channels = len(x[0]) if len(x) > 0 else 0
    return split(split(split(values, ow), oh), channels)


@parallel
def max_pool2d(x, kernel, stride):
    """torch's `F.max_pool2d(x, kernel, stride)`, without padding: the maximum of each
    (kernel, kernel) window; its gradient goes to the first maximum of a window."""
    return pooled(x, map(lambda row: max(row), pool_windows(x, kernel, stride)), kernel, stride)


@parallel
def avg_pool2d(x, kernel, stride):
    """torch's `F.avg_pool2d(x, kernel, stride)`, without padding: each window's mean."""
    return pooled(x, map(lambda row: sum(row) / len(row), pool_windows(x, kernel, stride)),
                  kernel, stride)
