"""Programs whose IR after every stage is kept as golden text in tests/golden/."""

import numpy as np

from cupar import *  # noqa: F403

X = np.arange(4, dtype=np.float32)
IDX = np.arange(4, dtype=np.int32)


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * abs(d))
    w = 1.0 - exp(-d * d / 2) * k
    return w if d > 0 else 1.0 - w


@parallel
def calls(x):
    return map(lambda xi: cnd(xi), x)


@parallel
def branches(x, t):
    if t > 0:
        y = map(lambda xi: xi * t, x)
        z = 1
    else:
        y = x
        z = 2
    return reduce(op_add, y, 0), z


@parallel
def poly(x, i):
    def twice(v):
        return v + v
    return map(twice, x), map(twice, i), twice(3)


@parallel
def loop(n, x):
    def go(k, acc):
        return acc if k == n else go(k + 1, acc + x[k])
    return go(0, 0)


@parallel
def comps(x, y):
    a, b = unzip([(xi + yi, xi > yi) for xi, yi in zip(x, y)])
    return [v for v in a if v > 1], all(b) and True


PROGRAMS = {
    "axpy": (axpy, (2.0, X, X)),
    "calls": (calls, (X,)),
    "branches": (branches, (X, np.float32(2))),
    "poly": (poly, (X, IDX)),
    "loop": (loop, (4, X)),
    "comps": (comps, (X, X)),
}
