"""The gradient benchmark cases: inputs, cupar's programs, hand-written NumPy, JAX.

Each case maker returns a dict: `what`, `args` (cupar's arguments), `impls` (label -> a
function of no arguments), `derived` (label -> cupar function, for kernel counts) and `check`
(-> list of problems). `time_jax(name, size, repeat)` times the same model in JAX, in
whatever process has JAX.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

F32 = np.float32
RISKFREE = 0.02


def options(n: int):
    rng = np.random.default_rng(20261204)
    return (rng.uniform(5.0, 30.0, n).astype(F32), rng.uniform(1.0, 100.0, n).astype(F32),
            rng.uniform(0.25, 10.0, n).astype(F32), rng.uniform(0.1, 0.5, n).astype(F32))


# -- Black-Scholes --------------------------------------------------------------------------

def np_cnd(d):
    k = 1.0 / (1.0 + F32(0.2316419) * np.abs(d))
    poly = k * (F32(0.31938153) + k * (F32(-0.356563782) + k * (
        F32(1.781477937) + k * (F32(-1.821255978) + k * F32(1.330274429)))))
    tail = F32(0.3989422804014327) * np.exp(F32(-0.5) * d * d) * poly
    return np.where(d > 0, 1.0 - tail, tail)


def np_value_delta_vega(s, x, t, r, v):
    """What a NumPy user writes: the value, and the greeks from their closed forms."""
    sqrt_t = np.sqrt(t)
    d1 = (np.log(s / x) + (r + F32(0.5) * v * v) * t) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    n1 = np_cnd(d1)
    value = np.sum(s * n1 - x * np.exp(-r * t) * np_cnd(d2), dtype=F32)
    density = np.exp(F32(-0.5) * d1 * d1) * F32(0.3989422804014327)
    return value, n1, s * density * sqrt_t


def black_scholes(n: int) -> dict:
    import cupar
    from greeks import closed_forms, total_call_value
    s, x, t, v = options(n)
    r = F32(RISKFREE)
    args = (s, x, t, r, v)
    vg = cupar.value_and_grad(total_call_value, argnums=(0, 4))

    def check():
        value, (delta, vega) = vg(*args)
        k = slice(0, min(n, 20000))
        (want_d, want_v), (slope_d, slope_v) = closed_forms(s[k], x[k], t[k], RISKFREE, v[k])
        rounding = 64 * np.finfo(F32).eps
        problems = []
        if not np.all(np.abs(delta[k] - want_d) <= slope_d + rounding):
            problems.append("delta differs from N(d1)")
        if not np.all(np.abs(vega[k] - want_v) <= slope_v + rounding * s[k] * np.sqrt(t[k])):
            problems.append("vega differs from S phi(d1) sqrt(T)")
        forward = total_call_value(*args)
        if not abs(float(value) - float(forward)) <= 1e-4 * abs(float(forward)):
            problems.append(f"value {value} != forward {forward}")
        return problems
    return {"what": f"sum of {n} call values, value and gradient w.r.t. spots and vols",
            "args": args, "check": check,
            "impls": {"cupar forward": lambda: total_call_value(*args),
                      "cupar value_and_grad": lambda: vg(*args),
                      "numpy value + closed-form greeks": lambda: np_value_delta_vega(*args)},
            "derived": {"forward": total_call_value, "value_and_grad": vg}}


def jax_black_scholes(n: int):
    import jax
    import jax.numpy as jnp

    def cnd(d):
        k = 1.0 / (1.0 + 0.2316419 * jnp.abs(d))
        poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (
            -1.821255978 + k * 1.330274429))))
        tail = 0.3989422804014327 * jnp.exp(-0.5 * d * d) * poly
        return jnp.where(d > 0, 1.0 - tail, tail)

    def total(s, x, t, r, v):
        sqrt_t = jnp.sqrt(t)
        d1 = (jnp.log(s / x) + (r + 0.5 * v * v) * t) / (v * sqrt_t)
        d2 = d1 - v * sqrt_t
        return jnp.sum(s * cnd(d1) - x * jnp.exp(-r * t) * cnd(d2))
    s, x, t, v = (jnp.asarray(a) for a in options(n))
    args = (s, x, t, jnp.float32(RISKFREE), v)
    return {"forward": (jax.jit(total), args),
            "value_and_grad": (jax.jit(jax.value_and_grad(total, argnums=(0, 4))), args)}


CASES = {"black_scholes": black_scholes}
JAX_CASES = {"black_scholes": jax_black_scholes}


def time_jax(name: str, size: int, repeat: int) -> dict:
    """Median ms of each JAX function of the case (compiled and warmed first)."""
    import jax
    fns = JAX_CASES[name](size)
    runs = {k: [] for k in fns}
    for fn, args in fns.values():
        jax.block_until_ready(fn(*args))
    for _ in range(repeat):
        for label, (fn, args) in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            runs[label].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1e3 for k, v in runs.items()}


def jax_version(python: str | None) -> str | None:
    try:
        import jax
        return jax.__version__
    except ImportError:
        pass
    if not python:
        return None
    import subprocess
    done = subprocess.run([python, "-c", "import jax; print(jax.__version__)"],
                          capture_output=True, text=True)
    return done.stdout.strip() or None
