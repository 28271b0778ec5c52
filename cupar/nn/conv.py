"""Convolutions and pooling over batches of images in NCHW layout (a 4-D array: batch,
channels, height, width), as `@parallel` functions with torch's semantics: `conv2d`,
`conv1d`, `max_pool2d`, `avg_pool2d`; and the same over images as rows of pixels (a 2-D
array (batch * height * width, channels), see the section below), which generated models use
between their layers: `conv2d_rows`, `max_pool2d_rows`, `avg_pool2d_rows`, with `nchw_rows`,
`rows_nchw` and `rows_flatten` converting.

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
    """torch's `F.max_pool2d(x, kernel, stride)`, without padding (`max_pool2d_padded`
    takes it): the maximum of each (kernel, kernel) window; its gradient goes to the first
    maximum of a window."""
    return pooled(x, map(lambda row: max(row), pool_windows(x, kernel, stride)), kernel, stride)


@parallel
def avg_pool2d(x, kernel, stride):
    """torch's `F.avg_pool2d(x, kernel, stride)`, without padding (`avg_pool2d_padded`
    takes it): each window's mean."""
    return pooled(x, map(lambda row: sum(row) / len(row), pool_windows(x, kernel, stride)),
                  kernel, stride)


NEGATIVE_INFINITY = float("-inf")  # what a max pool's padding reads, as torch's does


@parallel
def padded_pooled(x, values, kernel, stride, padding):
    """`pooled` for windows over images padded by `padding` on every side."""
    height = len(x[0][0]) if len(x) > 0 and len(x[0]) > 0 else 0
    width = len(x[0][0][0]) if height > 0 else 0
    oh = (height + 2 * padding - kernel) // stride + 1
    ow = (width + 2 * padding - kernel) // stride + 1
    channels = len(x[0]) if len(x) > 0 else 0
    return split(split(split(values, max(ow, 1)), max(oh, 1)), max(channels, 1))


@parallel
def max_pool2d_padded(x, kernel, stride, padding):
    """torch's `F.max_pool2d(x, kernel, stride, padding)`: the padding reads as -inf, so
    only the image's numbers win (every window holds one when padding <= kernel // 2, as
    torch requires); the gradient goes to the window's first maximum."""
    planes = split(join(x), 1)
    flat = join(join(join(planes)))
    taps = kernel * kernel
    src = window_sources(planes, kernel, kernel, stride, stride, padding, padding)

    def window_max(w):
        def value(t):
            k = src[w * taps + t]
            return flat[k] if k >= 0 else NEGATIVE_INFINITY
        return flat[src[w * taps + argmax(map(value, range(taps)))]]
    return padded_pooled(x, map(window_max, range(len(src) // taps)), kernel, stride, padding)


@parallel
def avg_pool2d_padded(x, kernel, stride, padding):
    """torch's `F.avg_pool2d(x, kernel, stride, padding)` (count_include_pad: the padding
    counts as zeros in each window's mean)."""
    planes = split(join(x), 1)
    windows = patches(planes, window_sources(planes, kernel, kernel, stride, stride, padding,
                                             padding), kernel * kernel)
    return padded_pooled(x, map(lambda row: sum(row) / len(row), windows), kernel, stride,
                         padding)


# -- images as rows of pixels ---------------------------------------------------------------
#
# A batch of images in "rows" layout is a 2-D array (batch * height * width, channels): one row
# per pixel, images after one another, each image's pixels row-major (NHWC, flattened). The
# sizes travel as arguments (`height`, `width`); the batch is len(x) // (height * width).
# Generated models keep images in this layout between their layers (see conv_api.py): a
# convolution is then one gather of pixel rows (im2col: a row index per tap, -1 in the
# padding, masked to zero), times the weights as a (kh * kw * cin, cout) matrix, plus the bias:
# the product is already the next layer's rows. Its gradient is two products and a
# scatter-add of pixel rows (`reduce_by_index` of rows). Elementwise layers are maps over
# rows, batch norm is `batch_norm` over the rows' columns, a max pool gathers each window's
# first maximum (its gradient: one scatter-add of numbers), and `rows_flatten` gathers the
# rows into torch's Flatten order, so a Linear after it takes torch's weights as they are.
# Integer sizes passed as literals (as the generated programs do: `conv2d_rows_sized`) make
# the index arithmetic multiplications instead of divisions.
#
# The digits CNN's training step (batch 32, 1x8x8 -> conv 16 -> conv 32 -> max pool ->
# 512 -> 64 -> 10, SGD with momentum) at cpu on the 2-core development machine (shared,
# load 3), fastest of 300 steps: 81 ms in NCHW, 3.4 ms in rows (PyTorch 2 threads: 1.1 ms);
# compiling the step took 127 s before and 50 s after (both under that load).

@parallel
def nchw_rows(x):
    """A batch of NCHW images (batch, c, h, w) as rows of pixels (batch * h * w, c)."""
    channels = len(x[0]) if len(x) > 0 else 1
    height = len(x[0][0]) if len(x) > 0 and channels > 0 else 1
    width = len(x[0][0][0]) if len(x) > 0 and channels > 0 and height > 0 else 1
    plane = height * width

    def source(e):
        p, c = e // channels, e % channels
        return (p // plane * channels + c) * plane + p % plane
    flat = gather(join(join(join(x))), map(source, range(len(x) * plane * channels)))
    return split(flat, max(channels, 1))


@parallel
def rows_nchw(x, height, width):
    """Rows of pixels (batch * height * width, c) as NCHW images (batch, c, height, width)."""
    channels = len(x[0]) if len(x) > 0 else 1
    plane = height * width

    def source(e):  # e indexes the NCHW result
        n, c, q = e // (channels * plane), e // plane % channels, e % plane
        return (n * plane + q) * channels + c
    flat = gather(join(x), map(source, range(len(x) * channels)))
    return split(split(split(flat, width), height), channels)


@parallel
def rows_flatten(x, height, width):
    """Rows of pixels as a batch of rows (batch, c * height * width) in torch's Flatten order
    (channel, then row, then column), as `flatten4` of the NCHW images: a gather whose
    gradient is a scatter-add of numbers."""
    channels = len(x[0]) if len(x) > 0 else 1
    plane = height * width
    size = channels * plane

    def source(e):  # e indexes the result: image e // size, (c, q) within it
        n, c, q = e // size, e % size // plane, e % plane
        return (n * plane + q) * channels + c
    return split(gather(join(x), map(source, range(len(x) * channels))), max(size, 1))


@parallel
def conv_row_sources(batch, height, width, kh, kw, stride, padding):
    """For each output pixel of each image and each tap (di, dj) of a (kh, kw) window: the
    input pixel row it reads, or -1 in the zero padding; taps ordered di, dj."""
    oh = (height + 2 * padding - kh) // stride + 1
    ow = (width + 2 * padding - kw) // stride + 1
    taps, pixels = kh * kw, oh * ow

    def source(e):
        p, t = e // taps, e % taps
        n, q = p // pixels, p % pixels
        r = q // ow * stride + t // kw - padding
        s = q % ow * stride + t % kw - padding
        inside = r >= 0 and r < height and s >= 0 and s < width
        return (n * height + r) * width + s if inside else -1
    return map(source, range(batch * pixels * taps))


@parallel
def conv_weight_rows(w):
    """torch's conv weights (cout, cin, kh, kw) as the (kh * kw * cin, cout) matrix that
    multiplies patches of pixel rows: row (di * kw + dj) * cin + c, column o, is
    w[o][c][di][dj]."""
    cout = len(w)
    cin = len(w[0]) if cout > 0 else 1
    kh = len(w[0][0]) if cout > 0 and cin > 0 else 1
    kw = len(w[0][0][0]) if cout > 0 and cin > 0 and kh > 0 else 1
    taps = kh * kw

    def source(e):
        o, tc = e % cout, e // cout
        return (o * cin + tc % cin) * taps + tc // cin
    return split(gather(join(join(join(w))), map(source, range(cout * cin * taps))),
                 max(cout, 1))


@parallel
def conv2d_rows_sized(x, w, b, height, width, kh, kw, stride, padding):
    """`conv2d_rows` with the kernel's size given (kh, kw must be w's): literal sizes let
    the compiled index arithmetic avoid divisions."""
    cout = len(zip(b, w))  # (a located error when they differ)
    cin = len(zip(x[0], w[0])) if len(x) > 0 and cout > 0 else 1
    taps = len(w[0][0]) * len(w[0][0][0]) if cout > 0 and cin > 0 else kh * kw
    src = conv_row_sources(len(x) // (height * width), height, width, kh, kw, stride,
                           padding)
    # the taps' pixel rows, zero in the padding: each output pixel's patch is a row of the
    # (pixels, taps * cin) matrix (its rows copied whole: see Lowerer.segment_loop)
    picked = gather(x, map(lambda k: maximum(k, 0), src))
    masked = map(lambda row, k: map(lambda v: v if k >= 0 else 0.0 * v, row), picked, src)
    cols = split(join(masked), max(taps * cin, 1))
    return map(lambda row: map(lambda v, bo: v + bo, row, b),
               matmul(cols, conv_weight_rows(w)))


@parallel
def conv2d_rows(x, w, b, height, width, stride, padding):
    """torch's `F.conv2d(x, w, b, stride, padding)` on rows of pixels: x (batch * height *
    width, cin), w (cout, cin, kh, kw) as torch's, b (cout,); the result is rows (batch * oh
    * ow, cout), oh = (height + 2 padding - kh) // stride + 1 (and ow alike). Its gradient
    is two matrix products and a scatter-add of pixel rows."""
    kh = len(w[0][0]) if len(w) > 0 and len(w[0]) > 0 else 1
    kw = len(w[0][0][0]) if len(w) > 0 and len(w[0]) > 0 and kh > 0 else 1
    return conv2d_rows_sized(x, w, b, height, width, kh, kw, stride, padding)


@parallel
def pool_corners(x, height, width, kernel, stride):
    """For each output pixel of a pooling without padding: the row of x (a pixel) at its
    window's top left."""
    oh = (height - kernel) // stride + 1
    ow = (width - kernel) // stride + 1
    pixels = oh * ow

    def corner(p):
        n, q = p // pixels, p % pixels
        return (n * height + q // ow * stride) * width + q % ow * stride
    return map(corner, range(len(x) // (height * width) * pixels))


@parallel
def window_taps(width, kernel):
    """The rows of a window's pixels, from its top left's, in row-major order."""
    return map(lambda t: t // kernel * width + t % kernel, range(kernel * kernel))


@parallel
def max_pool2d_rows(x, height, width, kernel, stride):
    """torch's `F.max_pool2d(x, kernel, stride)` (no padding) on rows of pixels (batch *
    height * width, c): rows (batch * oh * ow, c). Each output is a gathered input element,
    the window's first maximum, so the gradient is one scatter-add of numbers. The maximum
    is found reading x at (pixel, channel), with no division per element."""
    channels = len(x[0]) if len(x) > 0 else 1
    taps = window_taps(width, kernel)
    corners = pool_corners(x, height, width, kernel, stride)

    # (one flat map of outputs: a map of rows of picks, joined, makes a row per element)
    def first_maximum(e):
        corner, ch = corners[e // channels], e % channels
        best = argmax(map(lambda t: x[corner + t][ch], taps))
        return (corner + taps[best]) * channels + ch
    picks = map(first_maximum, range(len(corners) * channels))
    return split(gather(join(x), picks), max(channels, 1))


@parallel
def avg_pool2d_rows(x, height, width, kernel, stride):
    """torch's `F.avg_pool2d(x, kernel, stride)` (no padding) on rows of pixels: each
    window's mean, channel by channel."""
    channels = len(x[0]) if len(x) > 0 else 1
    flat = join(x)
    area = kernel * kernel
    corners = pool_corners(x, height, width, kernel, stride)

    def mean(e):
        corner = corners[e // channels] * channels + e % channels
        return sum(map(lambda t: flat[corner + (t // kernel * width + t % kernel) * channels],
                       range(area))) / area
    return split(map(mean, range(len(corners) * channels)), max(channels, 1))
