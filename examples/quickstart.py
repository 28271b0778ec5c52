"""A first look at cupar: a few @parallel functions, run at two places, and one explained.

Run with `make demo` or `python examples/quickstart.py`.
"""

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403  (parallel and the prelude: map, reduce, ...)


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def nrm2(x):
    return sqrt(sum(map(lambda xi: xi * xi, x)))


@parallel
def positives(x):
    return filter(lambda xi: xi > 0, x)


@parallel
def clamp(lo, hi, x):
    # a conditional expression inside the lambda: each element takes its own branch
    return map(lambda xi: lo if xi < lo else (hi if xi > hi else xi), x)


def run_all(x, y):
    a = np.float32(2)
    return {
        "axpy(2, x, y)": axpy(a, x, y),
        "nrm2(x)": nrm2(x),
        "positives(x)": positives(x),
        "clamp(-1, 1, x)": clamp(np.float32(-1), np.float32(1), x),
        "grad(nrm2)(x)": cupar.grad(nrm2)(x),  # a derived program: x / nrm2(x)
    }


def main():
    x = np.array([-1.5, 0.25, 2.0, -0.5, 3.0], dtype=np.float32)
    y = np.arange(5, dtype=np.float32)
    print(f"x = {x}\ny = {y}\n")
    with cupar.places.here:
        interpreted = run_all(x, y)
    default = run_all(x, y)  # no `with`: the default place, cupar.places.cpu
    for name, value in interpreted.items():
        print(f"{name:<16} at here: {value!s}")
        print(f"{'':<16} at  cpu: {default[name]!s}")
    print("\nWhat the compiler makes of axpy:\n")
    cupar.explain(axpy, np.float32(2), x, y)


if __name__ == "__main__":
    main()
