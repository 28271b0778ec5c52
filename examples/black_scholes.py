"""Black-Scholes European option pricing, the classic data-parallel benchmark.

`cnd` is a scalar @parallel function called from inside `map`. The data are float32 and stay
float32: the constants are Python floats, weakly typed (NEP 50), so they take float32's type.
"""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403

RISKFREE = 0.02
VOLATILITY = 0.30


@parallel
def cnd(d):
    """Cumulative normal distribution, Abramowitz & Stegun 26.2.17 (error < 7.5e-8)."""
    k = 1.0 / (1.0 + 0.2316419 * abs(d))
    poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 +
                                                      k * (-1.821255978 + k * 1.330274429))))
    tail = 0.3989422804014327 * exp(-0.5 * d * d) * poly
    return 1.0 - tail if d > 0 else tail


@parallel
def black_scholes(price, strike, years, r, v):
    def option(s, x, t):
        sqrt_t = sqrt(t)
        d1 = (log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        discounted = x * exp(-r * t)
        call = s * cnd(d1) - discounted * cnd(d2)
        put = discounted * (1.0 - cnd(d2)) - s * (1.0 - cnd(d1))
        return call, put
    return map(option, price, strike, years)


def reference(s, x, t, r, v):
    """The same model in float64 NumPy, with the exact normal CDF."""
    from math import erf
    ncdf = np.vectorize(lambda d: 0.5 * (1.0 + erf(d / np.sqrt(2.0))))
    s, x, t = (a.astype(np.float64) for a in (s, x, t))
    d1 = (np.log(s / x) + (r + 0.5 * v * v) * t) / (v * np.sqrt(t))
    d2 = d1 - v * np.sqrt(t)
    discounted = x * np.exp(-r * t)
    call = s * ncdf(d1) - discounted * ncdf(d2)
    put = discounted * ncdf(-d2) - s * ncdf(-d1)
    return call, put


def options(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.uniform(5.0, 30.0, n).astype(dtype), rng.uniform(1.0, 100.0, n).astype(dtype),
            rng.uniform(0.25, 10.0, n).astype(dtype))


def main(n=2000, dtype=np.float32, seed=0):
    s, x, t = options(n, dtype, seed)
    with cupar.places.here:
        call, put = unzip(black_scholes(s, x, t, dtype(RISKFREE), dtype(VOLATILITY)))
    ref_call, ref_put = reference(s, x, t, RISKFREE, VOLATILITY)
    # Errors are absolute, on the scale of the prices (S + X): float32 roundings in log, exp,
    # sqrt and the polynomial, plus cnd's 7.5e-8 approximation error (under one float32 eps).
    scale = s.astype(np.float64) + x
    tol = 16 * np.finfo(dtype).eps * scale
    ok = (call.dtype == dtype and put.dtype == dtype and
          np.all(np.abs(call - ref_call) <= tol) and np.all(np.abs(put - ref_put) <= tol))
    worst = max(np.max(np.abs(call - ref_call) / scale), np.max(np.abs(put - ref_put) / scale))
    print(f"black_scholes (n={n}, {np.dtype(dtype).name}): worst error {worst:.2g} x (S + X), "
          f"{'agrees with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
