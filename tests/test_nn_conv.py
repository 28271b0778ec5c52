"""cupar.nn.functional's convolutions, pooling and batch normalisation: forward against a
NumPy reference (and torch.nn.functional where installed), gradients against central finite
differences in float64, at places.here and at the compiled place (cpu, or gpu0 under the
simulator), and errors; and the primitives beneath them (`join`, `split`, results of three
or more axes). Sizes are small: the interpreter and the CUDA simulator run them too."""

import os
import warnings

import numpy as np
import pytest

import cupar
import cupar.nn.functional as F
from cupar import *  # noqa: F403
from gradcheck import check_gradient
from strategies import COMPILED

here = cupar.places.here
PLACES = [here, COMPILED]
RNG = np.random.default_rng(17)
MOMENTUM, EPS = 0.1, 1e-5


def normal(*shape):
    return RNG.standard_normal(shape)


def spread(*shape):
    """Distinct values at least 0.1 apart, shuffled: no near-ties in a max pool's window."""
    return RNG.permutation(np.arange(np.prod(shape)) * 0.1 - 1).reshape(shape)


def positive(n):
    return RNG.uniform(0.5, 1.5, n)


# -- NumPy references, in float64 -----------------------------------------------------------

def np_conv2d(x, w, b, stride, padding, strides=None, paddings=None):
    (sh, sw), (ph, pw) = strides or (stride, stride), paddings or (padding, padding)
    n, _, height, width = x.shape
    cout, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    out = np.empty((n, cout, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("ncij,ocij->no", patch, w)
    return out + b[None, :, None, None]


def np_conv1d(x, w, b, stride, padding):
    return np_conv2d(x[:, :, None, :], w[:, :, None, :], b, 0, 0, (1, stride),
                     (0, padding))[:, :, 0, :]


def np_pool(x, kernel, stride, reduce):
    oh, ow = ((d - kernel) // stride + 1 for d in x.shape[2:])
    return np.array([[reduce(x[:, :, i * stride:i * stride + kernel,
                               j * stride:j * stride + kernel], axis=(2, 3))
                      for j in range(ow)] for i in range(oh)]).transpose(2, 3, 0, 1)


def np_padded_pool(x, kernel, stride, padding, reduce, fill):
    wide = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                  constant_values=fill)
    return np_pool(wide, kernel, stride, reduce)


def np_batch_norm(x, mean, var, w, b, training, momentum, eps):
    """torch's batch norm: statistics over every axis but the features' (axis 1)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
        unbiased = x.var(axis=axes, ddof=1)
        y = (x - batch_mean.reshape(shape)) / np.sqrt(batch_var.reshape(shape) + eps)
        return (y * w.reshape(shape) + b.reshape(shape), (1 - momentum) * mean
                + momentum * batch_mean, (1 - momentum) * var + momentum * unbiased)
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * w.reshape(shape) + b.reshape(shape), mean, var


def bn_args(shape, training):
    c = shape[1]
    return (normal(*shape), normal(c), positive(c), normal(c), normal(c), training,
            MOMENTUM, EPS)


# name: (function, arguments, NumPy reference)
FORWARD = {
    "conv2d": (F.conv2d, lambda: (normal(2, 3, 5, 6), normal(4, 3, 3, 3), normal(4), 1, 1),
               np_conv2d),
    "conv2d_strided": (F.conv2d, lambda: (normal(2, 2, 7, 6), normal(3, 2, 3, 2), normal(3),
                                          2, 1), np_conv2d),
    "conv2d_unpadded": (F.conv2d, lambda: (normal(1, 2, 4, 5), normal(2, 2, 2, 2), normal(2),
                                           1, 0), np_conv2d),
    "conv1d": (F.conv1d, lambda: (normal(2, 3, 9), normal(4, 3, 3), normal(4), 2, 1),
               np_conv1d),
    "max_pool2d": (F.max_pool2d, lambda: (normal(2, 3, 6, 7), 2, 2),
                   lambda x, k, s: np_pool(x, k, s, np.max)),
    "avg_pool2d": (F.avg_pool2d, lambda: (normal(2, 3, 6, 7), 3, 2),
                   lambda x, k, s: np_pool(x, k, s, np.mean)),
    "max_pool2d_padded": (F.max_pool2d_padded, lambda: (normal(2, 3, 6, 7) - 5.0, 3, 2, 1),
                          lambda x, k, s, p: np_padded_pool(x, k, s, p, np.max, -np.inf)),
    "avg_pool2d_padded": (F.avg_pool2d_padded, lambda: (normal(2, 3, 5, 7), 2, 2, 1),
                          lambda x, k, s, p: np_padded_pool(x, k, s, p, np.mean, 0.0)),
    "batch_norm_train": (F.batch_norm, lambda: bn_args((5, 3), True), np_batch_norm),
    "batch_norm_eval": (F.batch_norm, lambda: bn_args((5, 3), False), np_batch_norm),
    "batch_norm2d_train": (F.batch_norm2d, lambda: bn_args((2, 3, 4, 5), True), np_batch_norm),
    "batch_norm2d_eval": (F.batch_norm2d, lambda: bn_args((2, 3, 4, 5), False), np_batch_norm),
}


def as_float32(args):
    return tuple(np.float32(a) if isinstance(a, float) else
                 a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args)


def as_float64(args):
    return tuple(a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args)


def assert_float32_close(actual, expected):
    """float32 in gives float32 out, within float32 rounding of a float64 reference."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_float32_close(a, e)
        return
    actual = np.asarray(cupar.places.to_host(actual))
    assert actual.dtype == np.float32 and actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_numpy_and_keeps_float32(name, place):
    fn, make, reference = FORWARD[name]
    args = as_float32(make())
    assert_float32_close(fn(*args, target_place=place), reference(*as_float64(args)))


# -- gradients: a scalar of each layer, for cupar.grad ---------------------------------------

@parallel
def weigh(y, c):
    """sum(y * c) of two batches of rows: its gradient in y is c."""
    return sum(map(lambda r, s: sum(map(op_mul, r, s)), y, c))


@parallel
def weigh3(y, c):
    return sum(map(weigh, y, c))


@parallel
def weigh4(y, c):
    return sum(map(weigh3, y, c))


@parallel
def p_conv2d(x, w, b, c):
    return weigh4(F.conv2d(x, w, b, 2, 1), c)


@parallel
def p_conv1d(x, w, b, c):
    return weigh3(F.conv1d(x, w, b, 1, 1), c)


@parallel
def p_pools(x, c_max, c_avg):
    return weigh4(F.max_pool2d(x, 2, 2), c_max) + weigh4(F.avg_pool2d(x, 3, 1), c_avg)


@parallel
def p_padded_pools(x, c_max, c_avg):
    return weigh4(F.max_pool2d_padded(x, 3, 2, 1), c_max) + \
        weigh4(F.avg_pool2d_padded(x, 2, 1, 1), c_avg)


@parallel
def p_batch_norm(x, weight, bias, mean, var, training, c):
    y, new_mean, new_var = F.batch_norm(x, mean, var, weight, bias, training, MOMENTUM, EPS)
    return weigh(y, c)


@parallel
def p_batch_norm2d(x, weight, bias, mean, var, training, c):
    y, new_mean, new_var = F.batch_norm2d(x, mean, var, weight, bias, training, MOMENTUM, EPS)
    return weigh4(y, c)


def bn_grad_args(shape, training):
    c = shape[1]
    return (normal(*shape), normal(c), normal(c), normal(c), positive(c), training,
            normal(*shape))


# name: (scalar function, arguments in float64, argnums differentiated)
GRADIENTS = {
    "conv2d": (p_conv2d, lambda: (normal(2, 2, 5, 4), normal(3, 2, 3, 2), normal(3),
                                  normal(2, 3, 3, 3)), (0, 1, 2)),
    "conv1d": (p_conv1d, lambda: (normal(2, 2, 6), normal(3, 2, 3), normal(3),
                                  normal(2, 3, 6)), (0, 1, 2)),
    "pools": (p_pools, lambda: (spread(2, 2, 4, 5), normal(2, 2, 2, 2), normal(2, 2, 2, 3)),
              (0,)),
    "padded_pools": (p_padded_pools, lambda: (spread(2, 2, 4, 5), normal(2, 2, 2, 3),
                                              normal(2, 2, 5, 6)), (0,)),
    "batch_norm_train": (p_batch_norm, lambda: bn_grad_args((4, 3), True), (0, 1, 2)),
    "batch_norm_eval": (p_batch_norm, lambda: bn_grad_args((4, 3), False), (0, 1, 2, 3, 4)),
    "batch_norm2d_train": (p_batch_norm2d, lambda: bn_grad_args((2, 3, 2, 3), True),
                           (0, 1, 2)),
}

# Numba takes 30-75 s to compile each of these derived programs at cpu: `make test` checks
# them at cpu with CUPAR_SLOW=1 only; its CUDA-simulator run (no Numba compile) and
# places.here check them every time.
SLOW_AT_CPU = set(GRADIENTS)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_gradients_match_finite_differences(name, place):
    if name in SLOW_AT_CPU and place is cupar.places.cpu and not os.environ.get("CUPAR_SLOW"):
        pytest.skip("compiling this gradient at cpu takes 20-40 s: set CUPAR_SLOW=1")
    fn, make, argnums = GRADIENTS[name]
    args = make()
    grads = check_gradient(fn, args, argnums, place=place, rng=np.random.default_rng(5))
    for k, g in zip(argnums, grads):  # each gradient has its argument's dtype and shape
        g = np.asarray(cupar.places.to_host(g))
        assert g.shape == np.shape(args[k]) and g.dtype == np.float64


# -- errors: located, and never a Numba traceback --------------------------------------------

def test_bad_input_gives_located_errors():
    errors = cupar.errors
    x, w, b = np.ones((2, 3, 5, 5), np.float32), np.ones((4, 3, 3, 3), np.float32), \
        np.ones(4, np.float32)
    with pytest.raises(errors.CuparValueError, match="different lengths") as info:
        F.conv2d(x, np.ones((4, 2, 3, 3), np.float32), b, 1, 1, target_place=COMPILED)
    assert info.value.loc is not None and info.value.loc.file.endswith("conv.py")
    with pytest.raises(errors.CuparTypeError) as info:  # a batch of matrices, not of images
        F.conv2d(x[0], w, b, 1, 1)
    assert info.value.loc is not None and info.value.loc.file.endswith("conv.py")
    with pytest.raises(errors.CuparTypeError):  # float64 input, float32 weights
        F.conv2d(x.astype(np.float64), w, b, 1, 1)
    with pytest.raises(errors.CuparTypeError) as info:
        F.batch_norm(x, b, b, b, b, True, 0.1, 1e-5)  # 4-D input: batch_norm2d's
    assert info.value.loc is not None and info.value.loc.file.endswith("norm.py")


# -- torch.nn.functional, where installed ----------------------------------------------------

def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch is not installed: torch.nn.functional "
                                               "is an optional oracle (pip install torch)")


def torch_reference(torch, name, args):
    tf = torch.nn.functional
    t = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    if name.startswith("batch_norm"):
        x, mean, var, w, b, training, momentum, eps = t
        y = tf.batch_norm(x, mean, var, w, b, training, momentum, eps)
        return y, mean, var  # torch updated the running statistics in place
    call = {"conv2d": tf.conv2d, "conv1d": tf.conv1d, "max_pool2d": tf.max_pool2d,
            "avg_pool2d": tf.avg_pool2d, "max_pool2d_padded": tf.max_pool2d,
            "avg_pool2d_padded": tf.avg_pool2d}[name.split("_un")[0].split("_strided")[0]]
    return call(*t)


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_forward_matches_torch(name):
    torch = torch_or_skip()
    fn, make, _ = FORWARD[name]
    args = as_float32(make())
    actual = fn(*args, target_place=COMPILED)
    expected = torch_reference(torch, name, [float(a) if isinstance(a, np.floating) else
                                             a.copy() if isinstance(a, np.ndarray) else a
                                             for a in args])
    if isinstance(expected, tuple):
        expected = tuple(e.numpy() for e in expected)
    else:
        expected = expected.numpy()
    assert_float32_close(actual, expected)


def test_cnn_gradients_against_torch():
    """conv, relu, max pool, conv, batch norm, mean: value and every gradient as torch's."""
    torch = torch_or_skip()
    tf = torch.nn.functional
    params = [normal(4, 2, 3, 3), normal(4), normal(3, 4, 3, 3), normal(3), normal(3),
              normal(3)]
    x, mean, var = normal(2, 2, 6, 6), normal(3), positive(3)
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    h = tf.max_pool2d(tf.relu(tf.conv2d(torch.tensor(x), tp[0], tp[1], 1, 1)), 2, 2)
    y = tf.batch_norm(tf.conv2d(h, tp[2], tp[3], 1, 1), torch.tensor(mean),
                      torch.tensor(var), tp[4], tp[5], True, MOMENTUM, EPS)
    (y * y).mean().backward()
    for place in PLACES:
        if place is cupar.places.cpu and not os.environ.get("CUPAR_SLOW"):
            continue  # (a minute of Numba compilation: CUPAR_SLOW=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error", cupar.errors.NotCompiledWarning)
            value, grads = cupar.value_and_grad(cnn_loss, (0, 1, 2, 3, 4, 5))(
                *params, x, mean, var, target_place=place)
        np.testing.assert_allclose(value, torch.mean(y * y).item(), rtol=1e-10)
        for g, t in zip(grads, tp):
            np.testing.assert_allclose(cupar.places.to_host(g), t.grad.numpy(), rtol=1e-9,
                                       atol=1e-12)


@parallel
def cnn_loss(w1, b1, w2, b2, gamma, beta, x, mean, var):
    y1 = F.conv2d(x, w1, b1, 1, 1)
    # relu of the images as rows, joined and split back: the derived program of
    # map(lambda img: map(F.relu, img), y1) does not lower yet (rows whose length depends on
    # the row: it would run in the interpreter)
    h = F.max_pool2d(split(split(F.relu(join(join(y1))), len(y1[0][0])), len(y1[0])), 2, 2)
    y, new_mean, new_var = F.batch_norm2d(F.conv2d(h, w2, b2, 1, 1), mean, var, gamma, beta,
                                          True, MOMENTUM, EPS)
    return weigh4(y, y) / (len(y) * len(y[0]) * len(y[0][0]) * len(y[0][0][0]))


# -- the primitives beneath: join, split, results of three or more axes ---------------------

@parallel
def reshaped(x):
    """(a, b, c) -> flat -> (a * b, c) -> (a, b, c), doubled on the way."""
    flat = map(lambda v: 2.0 * v, join(join(x)))
    return split(split(flat, len(x[0][0])), len(x[0]))


@parallel
def joined(x):
    return join(join(x))


@parallel
def split_by(xs, k):
    return split(xs, k)


@parallel
def outer3(u, v, w):
    return map(lambda a: map(lambda b: map(lambda c: a * b + c, w), v), u)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_join_split_and_three_axes(place):
    x = normal(2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cupar.errors.NotCompiledWarning)  # compiled, really
        got = reshaped(x, target_place=place)
        np.testing.assert_array_equal(cupar.places.to_host(got), 2 * x)
        u, v, w = normal(2), normal(3), normal(4)
        np.testing.assert_allclose(cupar.places.to_host(outer3(u, v, w, target_place=place)),
                                   u[:, None, None] * v[None, :, None] + w, rtol=1e-15)
        assert np.asarray(cupar.places.to_host(joined(np.ones((0, 3, 4)),
                                                      target_place=place))).shape == (0,)
    with pytest.raises(cupar.errors.CuparValueError, match="split"):
        split_by(np.ones(5), 2, target_place=place)
    check_gradient(lambda_free_probe, (x, normal(2, 3, 4)), (0,), place=place)


@parallel
def lambda_free_probe(x, c):
    return weigh3(reshaped(x), c)
