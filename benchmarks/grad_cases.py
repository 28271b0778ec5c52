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
    return case(f"sum of {n} call values, value and gradient w.r.t. spots and vols", args,
                check, total_call_value, vg, "numpy value + closed-form greeks",
                np_value_delta_vega)


def case(what: str, args: tuple, check, forward, vg, numpy_label: str, numpy) -> dict:
    """A case's dict: cupar's forward and value_and_grad beside the NumPy user's code."""
    return {"what": what, "args": args, "check": check,
            "impls": {"cupar forward": lambda: forward(*args),
                      "cupar value_and_grad": lambda: vg(*args),
                      numpy_label: lambda: numpy(*args)},
            "derived": {"forward": forward, "value_and_grad": vg}}


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


# -- a two-layer MLP ------------------------------------------------------------------------

MLP_SHAPE = (256, 784, 256, 10)  # batch, inputs, hidden, classes
SMALL_MLP_SHAPE = (16, 64, 32, 10)  # below 2^16 elements (tests: compiles in seconds)


def mlp_shape(size: int) -> tuple:
    return MLP_SHAPE if size >= 2 ** 16 else SMALL_MLP_SHAPE


def mlp_inputs(shape=MLP_SHAPE):
    batch, d_in, hidden, classes = shape
    rng = np.random.default_rng(784)
    scale1, scale2 = np.sqrt(2 / d_in), np.sqrt(2 / hidden)
    return (rng.standard_normal((d_in, hidden)).astype(F32) * F32(scale1),
            np.zeros(hidden, F32), rng.standard_normal((hidden, classes)).astype(F32) *
            F32(scale2), np.zeros(classes, F32),
            rng.random((batch, d_in)).astype(F32), rng.integers(0, classes, batch))


def np_mlp_value_and_grad(w1, b1, w2, b2, x, labels):
    """What a NumPy user writes: the forward pass, then the backward pass by hand."""
    rows = np.arange(len(labels))
    pre = x @ w1 + b1
    h = np.maximum(pre, F32(0))
    logits = h @ w2 + b2
    m = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - m)
    z = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(z[:, 0]) + m[:, 0] - logits[rows, labels])
    g = e / z
    g[rows, labels] -= F32(1)
    g /= F32(len(labels))
    dw2, db2 = h.T @ g, g.sum(axis=0)
    dpre = (g @ w2.T) * (pre > 0)
    return loss, (x.T @ dpre, dpre.sum(axis=0), dw2, db2)


def mlp(size: int) -> dict:
    """The MLP's shape is fixed (MLP_SHAPE) at the sizes benchmarks run, small below."""
    import cupar
    from programs_grad import mlp_loss
    args = mlp_inputs(mlp_shape(size))
    vg = cupar.value_and_grad(mlp_loss, argnums=(0, 1, 2, 3))

    def check():
        value, grads = vg(*args)
        want_value, want = np_mlp_value_and_grad(*args)
        problems = []
        if not abs(float(value) - float(want_value)) <= 1e-5 * (1 + abs(float(want_value))):
            problems.append(f"loss {value} != NumPy's {want_value}")
        for name, g, w in zip(("dw1", "db1", "dw2", "db2"), grads, want):
            scale = float(np.abs(w).max()) + 1e-30
            if g.dtype != F32 or g.shape != w.shape or \
                    not np.allclose(g, w, rtol=1e-3, atol=1e-4 * scale):
                problems.append(f"{name} differs from NumPy's")
        return problems
    batch, d_in, hidden, classes = mlp_shape(size)
    return case(f"softmax cross-entropy of a {d_in}-{hidden}-{classes} MLP, batch {batch}",
                args, check, mlp_loss, vg, "numpy forward+backward by hand",
                np_mlp_value_and_grad)


def jax_mlp(size: int):
    import jax
    import jax.numpy as jnp

    def loss(w1, b1, w2, b2, x, labels):
        h = jnp.maximum(x @ w1 + b1, 0.0)
        logits = h @ w2 + b2
        logz = jax.nn.logsumexp(logits, axis=1)
        return jnp.mean(logz - jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0])
    args = tuple(jnp.asarray(a) for a in mlp_inputs(mlp_shape(size)))
    return {"forward": (jax.jit(loss), args),
            "value_and_grad": (jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3))), args)}


CASES = {"black_scholes": black_scholes, "mlp": mlp}
JAX_CASES = {"black_scholes": jax_black_scholes, "mlp": jax_mlp}


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
