"""LSD radix sort, one bit per pass, from scans and a permutation.

Each pass splits the keys stably by one bit: keys whose bit is 0 keep their relative order and
go first, the others follow. Their destinations are two exclusive prefix sums. The passes are
a tail-recursive loop over the bits, Copperhead's only loop. Signed keys sort by flipping the
sign bit's sense in the last pass: negative numbers (sign bit 1) must come first.
"""

import sys

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def split_by_bit(keys, bit, flip):
    """A stable partition of `keys` by bit `bit` (xor `flip`): zeros first, then ones."""
    ones = map(lambda k: ((k >> bit) & 1) ^ flip, keys)
    zeros = map(lambda o: 1 - o, ones)
    zeros_before = exclusive_scan(op_add, 0, zeros)
    ones_before = exclusive_scan(op_add, 0, ones)
    n_zeros = sum(zeros)
    dest = map(lambda o, z, b: z if o == 0 else n_zeros + b, ones, zeros_before, ones_before)
    return permute(keys, dest)


@parallel
def radix_sort(keys, bits, signed):
    def sort_from(keys, bit):
        if bit == bits:
            return keys
        flip = 1 if signed and bit == bits - 1 else 0
        return sort_from(split_by_bit(keys, bit, cast_to_el(flip, keys)), bit + 1)
    return sort_from(keys, 0)


def main(n=500, seed=0):
    rng = np.random.default_rng(seed)
    cases = {"uint32": rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
             "int32": rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)}
    failed = []
    for name, keys in cases.items():
        with cupar.places.here:
            result = radix_sort(keys, 32, keys.dtype == np.int32)
        if result.dtype != keys.dtype or not np.array_equal(result, np.sort(keys)):
            failed.append(name)
    print(f"radix_sort (n={n}; uint32, int32; 32 one-bit passes): "
          f"{'MISMATCH for ' + ', '.join(failed) if failed else 'agrees with np.sort'}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
