"""Minimum and maximum with their positions, two ways: a reduction over (value, index) pairs
with a tuple accumulator, and the prelude's min/max/argmin/argmax."""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def min_with_index(x):
    def better(a, b):
        # the lesser value wins; on a tie the lower index, so the operator stays associative
        # and commutative and the first occurrence is found, as np.argmin does
        (av, ai), (bv, bi) = a, b
        return a if av < bv or (av == bv and ai < bi) else b
    return reduce(better, zip(x, indices(x)), (max_bound_el(x), len(x)))


@parallel
def max_with_index(x):
    def better(a, b):
        (av, ai), (bv, bi) = a, b
        return a if av > bv or (av == bv and ai < bi) else b
    return reduce(better, zip(x, indices(x)), (min_bound_el(x), len(x)))


@parallel
def extrema(x):
    return min(x), argmin(x), max(x), argmax(x)


def expected(x):
    return x.min(), x.argmin(), x.max(), x.argmax()


def check(x):
    with cupar.places.here:
        (lo, ilo), (hi, ihi) = min_with_index(x), max_with_index(x)
        prelude = extrema(x)
    want = expected(x)
    same_types = {type(v) for v in (lo, hi, prelude[0], prelude[2])} == {x.dtype.type}
    return same_types and (lo, ilo, hi, ihi) == want and tuple(prelude) == want


def main(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    cases = {"int32 with ties": rng.integers(-50, 50, n).astype(np.int32),
             "float32": rng.standard_normal(n).astype(np.float32),
             "float64": rng.standard_normal(n)}
    failed = [name for name, x in cases.items() if not check(x)]
    print(f"extrema (n={n}; {', '.join(cases)}): "
          f"{'MISMATCH for ' + ', '.join(failed) if failed else 'agree with NumPy'}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
