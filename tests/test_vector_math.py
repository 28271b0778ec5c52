"""The cpu place's float32 exp, log and tanh (cupar/runtime/vector_math.py): within 1 ulp of the
correctly rounded result on a sample of every float32 bit pattern, the IEEE special cases
exact, and float64 left to the C library."""

import numba
import numpy as np
import pytest

from cupar.runtime.cpu.vector_math import vexp, vlog, vsigmoid, vtanh


@numba.njit
def apply_exp(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = vexp(x[i])
    return out


@numba.njit
def apply_log(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = vlog(x[i])
    return out


@numba.njit
def apply_tanh(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = vtanh(x[i])
    return out


@numba.njit
def apply_sigmoid(x):
    out = np.empty_like(x)
    one = np.ones(1, x.dtype)[0]
    for i in range(x.shape[0]):
        out[i] = vsigmoid(x[i], one)
    return out


def exact_sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(x) / (1 + np.exp(x)))


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between float32 arrays (NaN to NaN is 0)."""
    def ordered(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    d = np.abs(ordered(a) - ordered(b))
    d[np.isnan(a) & np.isnan(b)] = 0
    return d


SAMPLE = np.arange(0, 1 << 32, 101, dtype=np.uint64).astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("ours, exact", [(apply_exp, np.exp), (apply_log, np.log),
                                         (apply_tanh, np.tanh)], ids=["exp", "log", "tanh"])
def test_within_one_ulp_of_the_correctly_rounded_result(ours, exact):
    with np.errstate(all="ignore"):
        truth = exact(SAMPLE.astype(np.float64)).astype(np.float32)
        got = ours(SAMPLE)
    assert got.dtype == np.float32
    worst = ulps(got, truth).argmax()
    assert ulps(got, truth).max() <= 1, (SAMPLE[worst], got[worst], truth[worst])


def test_sigmoid_is_within_three_ulp_and_never_overflows():
    """The `sigmoid` primitive at cpu: the polynomial exp, one division and a product (each
    rounding once) against the float64 logistic function rounded to float32."""
    with np.errstate(all="ignore"):
        truth = exact_sigmoid(SAMPLE.astype(np.float64)).astype(np.float32)
        got = apply_sigmoid(SAMPLE)
    assert got.dtype == np.float32
    assert ulps(got, truth).max() <= 3
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 200.0, -200.0], np.float32)
    np.testing.assert_array_equal(apply_sigmoid(x), [np.nan, 1, 0, 0.5, 1, 0])
    y = np.linspace(-30, 30, 601)  # float64: NumPy's exp
    np.testing.assert_allclose(apply_sigmoid(y), exact_sigmoid(y), rtol=4e-16, atol=0)


def test_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.8, -104.0, -1e-45, 1e-45], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(apply_exp(x), np.exp(x.astype(np.float64)).astype(np.float32))
        np.testing.assert_array_equal(apply_log(x), np.log(x.astype(np.float64)).astype(np.float32))
        np.testing.assert_array_equal(apply_tanh(x),
                                      np.tanh(x.astype(np.float64)).astype(np.float32))
    assert np.signbit(apply_tanh(np.array([-0.0], np.float32)))[0]


def test_float64_goes_to_the_c_library():
    x = np.linspace(-50, 50, 1001)
    np.testing.assert_allclose(apply_exp(x), np.exp(x), rtol=2 * np.finfo(np.float64).eps)
    np.testing.assert_allclose(apply_log(x[x > 0]), np.log(x[x > 0]),
                               rtol=2 * np.finfo(np.float64).eps)
