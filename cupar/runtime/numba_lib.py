"""Python helpers the generated Numba code calls in object mode.

`sort_numbers(xs, descending)` is `sort(cmp_lt, xs)` / `sort(cmp_gt, xs)` on numbers: NumPy's
sort (SIMD quicksort, faster than anything Numba compiles), made stable where stability shows:
equal numbers are identical bit patterns except -0.0 and +0.0, which are put back in their
input order. NaNs go last ascending and first descending.
"""

from __future__ import annotations

import numpy as np


def sort_numbers(xs: np.ndarray, descending: bool) -> np.ndarray:
    out = np.sort(xs)
    if descending:
        out = out[::-1]
    out = np.ascontiguousarray(out)
    if out.dtype.kind == "f":
        zeros = out == 0
        if zeros.any():
            out[zeros] = xs[xs == 0]  # stable: zeros keep their input order (and signs)
    return out
