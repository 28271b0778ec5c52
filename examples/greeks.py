"""Black-Scholes greeks by automatic differentiation: delta (dC/dS) and vega (dC/dsigma) of
2^22 European calls from one compiled program, `cupar.grad` of the total call value.

Each option's price depends only on its own spot and volatility, so the gradient of the sum
with respect to the arrays of spots and of volatilities is each option's delta and vega.
They are checked against the closed forms N(d1) and S phi(d1) sqrt(T).
"""

import sys
from pathlib import Path

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403

sys.path.insert(0, str(Path(__file__).resolve().parent))
from black_scholes import cnd  # noqa: E402  (the A&S normal CDF, a @parallel function)

RISKFREE = 0.02


@parallel
def total_call_value(spot, strike, years, r, vols):
    def call(s, x, t, v):
        sqrt_t = sqrt(t)
        d1 = (log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        return s * cnd(d1) - x * exp(-r * t) * cnd(d2)
    return sum(map(call, spot, strike, years, vols))


greeks = cupar.grad(total_call_value, argnums=(0, 4))  # (delta, vega), one per option


# The slope of the A&S polynomial differs from the normal density by at most this much
# (measured on a grid of 2e6 points over [-8, 8]; worst at d = 0, where |d| has its kink).
SLOPE_ERROR = 6.9e-5


def closed_forms(s, x, t, r, v):
    """N(d1) and S phi(d1) sqrt(T), in float64 with the exact normal CDF, and how far cupar's
    derivatives of the A&S approximation may be from them: its slope error times how much
    d1 and d2 move."""
    from math import erf
    s, x, t, v = (a.astype(np.float64) for a in (s, x, t, v))
    d1 = (np.log(s / x) + (r + 0.5 * v * v) * t) / (v * np.sqrt(t))
    ncdf = np.vectorize(lambda d: 0.5 * (1.0 + erf(d / np.sqrt(2.0))))
    phi = np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi)
    discounted = x * np.exp(-r * t)
    delta_bound = SLOPE_ERROR * (1 + discounted / s) / (v * np.sqrt(t))
    vega_bound = SLOPE_ERROR * (s * np.abs(np.sqrt(t) - d1 / v) + discounted * np.abs(d1 / v))
    return (ncdf(d1), s * phi * np.sqrt(t)), (delta_bound, vega_bound)


def options(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.uniform(5.0, 30.0, n).astype(dtype), rng.uniform(1.0, 100.0, n).astype(dtype),
            rng.uniform(0.25, 10.0, n).astype(dtype), rng.uniform(0.1, 0.5, n).astype(dtype))


def main(n=1 << 22, dtype=np.float32, seed=0, check=20000):
    s, x, t, v = options(n, dtype, seed)
    delta, vega = greeks(s, x, t, dtype(RISKFREE), v)
    k = slice(0, min(n, check))  # the closed forms in NumPy are slow: check a prefix
    (want_delta, want_vega), (slope_delta, slope_vega) = closed_forms(
        s[k], x[k], t[k], RISKFREE, v[k])
    # beyond the polynomial's slope error: float32 roundings in log, exp, sqrt and the
    # polynomial, on the scale of each greek (vega's is S sqrt(T))
    rounding = 64 * np.finfo(dtype).eps
    tol_delta = slope_delta + rounding
    tol_vega = slope_vega + rounding * s[k] * np.sqrt(t[k].astype(np.float64))
    err_delta = np.abs(delta[k] - want_delta)
    err_vega = np.abs(vega[k] - want_vega)
    ok = (delta.dtype == dtype and vega.dtype == dtype and delta.shape == (n,) and
          bool(np.all(err_delta <= tol_delta)) and bool(np.all(err_vega <= tol_vega)))
    print(f"greeks (n={n}, {np.dtype(dtype).name}): worst delta error {err_delta.max():.2g}, "
          f"worst vega error {err_vega.max():.2g} (at most {np.max(err_vega / tol_vega):.2f} "
          f"of the bound), {'agree with the closed forms' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
