"""Checking derivatives against central finite differences, in float64.

The derivative along a random direction v, g . v, is compared with the central difference
D(h) = (f(x + hv) - f(x - hv)) / 2h evaluated by the interpreter, extrapolated as
(4 D(h/2) - D(h)) / 3 (Richardson). D(h) errs by about h^2 |f'''| / 6 (truncation) plus
eps |f| / h (rounding), so h = eps^(1/3) balances the two, and the tolerance is that error
bound times a safety factor, scaled by the magnitudes involved. The extrapolation removes
the h^2 term, which for a steep function (a random program's nested powers) exceeded that
bound while the gradient was right to 1e-11. Where f has a kink or a
jump between x - h and x + h the two one-sided differences disagree: `smooth_here` tells,
and such points are skipped rather than compared.
"""

from __future__ import annotations

import numpy as np

import cupar

EPS = float(np.finfo(np.float64).eps)
STEP = EPS ** (1 / 3)  # about 6e-6
SAFETY = 1000  # room for |f'''| and for the interpreter's own rounding


def tolerance(*magnitudes) -> float:
    return SAFETY * (STEP ** 2 + EPS / STEP) * (1 + sum(abs(m) for m in magnitudes))


def directions(args, argnums, rng):
    """A unit-scale random direction for each differentiated argument."""
    return [rng.standard_normal(np.shape(args[k])) for k in argnums]


def moved(args, argnums, dirs, t: float):
    out = list(args)
    for k, v in zip(argnums, dirs):
        x = np.asarray(args[k], dtype=np.float64)
        out[k] = x + t * v if np.ndim(x) else np.float64(x + t * v)
    return out


def value_at(fn, args) -> float:
    return float(fn(*args, target_place=cupar.places.here))


def finite_difference(fn, args, argnums, dirs, h: float = STEP) -> float:
    def central(h):
        up, down = (value_at(fn, moved(args, argnums, dirs, t)) for t in (h, -h))
        return (up - down) / (2 * h)
    return (4 * central(h / 2) - central(h)) / 3


def smooth_here(fn, args, argnums, dirs) -> bool:
    """Whether the one-sided differences agree with the central one (no kink within h)."""
    f0 = value_at(fn, args)
    up = (value_at(fn, moved(args, argnums, dirs, STEP)) - f0) / STEP
    down = (f0 - value_at(fn, moved(args, argnums, dirs, -STEP))) / STEP
    # one-sided differences err by h |f''| / 2: allow that, scaled like `tolerance`
    return abs(up - down) <= SAFETY * STEP * (1 + abs(up) + abs(down) + abs(f0))


def along(grads, dirs) -> float:
    return float(sum(np.sum(np.asarray(g, dtype=np.float64) * v) for g, v in zip(grads, dirs)))


def check_gradient(fn, args, argnums=(0,), place=None, rng=None, directions_count=2,
                   derived=None):
    """Assert cupar.grad(fn) at `place` agrees with finite differences along random
    directions; return the gradients. `derived`: a value_and_grad of `fn` to use instead
    (tests share one, so each program compiles once)."""
    rng = rng or np.random.default_rng(0)
    if derived is not None:
        grads = derived(*args, target_place=place)[1]
    else:
        grads = cupar.grad(fn, argnums=tuple(argnums))(*args, target_place=place)
    for _ in range(directions_count):
        dirs = directions(args, argnums, rng)
        fd = finite_difference(fn, args, argnums, dirs)
        ad = along(grads, dirs)
        assert abs(fd - ad) <= tolerance(fd, value_at(fn, args)), \
            f"directional derivative: finite differences {fd!r}, cupar.grad {ad!r}"
    return grads
