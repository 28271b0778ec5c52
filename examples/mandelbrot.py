"""The Mandelbrot set by escape time: per pixel, how many steps of z <- z*z + c before |z| > 2.

The per-pixel loop is tail recursion inside a scalar @parallel function mapped over pixels.
"""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def escape_time(cr, ci, limit):
    def iterate(zr, zi, k):
        if k == limit or zr * zr + zi * zi > 4.0:
            return k
        return iterate(zr * zr - zi * zi + cr, 2.0 * zr * zi + ci, k + 1)
    return iterate(0.0 * cr, 0.0 * ci, 0)


@parallel
def mandelbrot(cr, ci, limit):
    return map(lambda a, b: escape_time(a, b, limit), cr, ci)


def reference(cr, ci, limit):
    """The same iteration, vectorised, in the same order of operations."""
    zr, zi = np.zeros_like(cr), np.zeros_like(ci)
    counts = np.zeros(cr.shape, dtype=np.int64)
    for k in range(limit):
        live = zr * zr + zi * zi <= 4.0
        counts[live] = k + 1
        zr, zi = (np.where(live, zr * zr - zi * zi + cr, zr),
                  np.where(live, 2.0 * zr * zi + ci, zi))
    return counts


def pixels(width, height, dtype):
    re, im = np.meshgrid(np.linspace(-2.0, 0.6, width), np.linspace(-1.2, 1.2, height))
    return re.ravel().astype(dtype), im.ravel().astype(dtype)


def show(counts, width, limit):
    shades = " .:-=+*#%@"
    for row in counts.reshape(-1, width):
        print("  " + "".join(shades[min(c * len(shades) // limit, len(shades) - 1)] for c in row))


def main(width=48, height=20, limit=32, dtype=np.float32, verbose=True):
    cr, ci = pixels(width, height, dtype)
    with cupar.places.here:
        counts = mandelbrot(cr, ci, limit)
    ok = np.array_equal(counts, reference(cr, ci, limit))
    if verbose:
        show(counts, width, limit)
    print(f"mandelbrot ({width}x{height}, limit {limit}): "
          f"{'escape counts agree with NumPy' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
