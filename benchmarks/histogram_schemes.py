"""The ways a CPU can run reduce_by_index(op_add, ...), hand-written, timed side by side: the
measurements behind cupar/runtime/cpu/histogram.py's choice of scheme.

    python benchmarks/histogram_schemes.py [--size N] [--repeat R]

N values (default 2^24) into 256, 2^20 and N bins, float32 and int64: a sequential loop,
a private histogram per thread folded afterwards, one atomic add per value, NumPy's
np.add.at and np.bincount(weights=), and cupar itself. Medians in ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import prange

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import cupar  # noqa: E402
from cupar import op_add, parallel, reduce_by_index  # noqa: E402
from cupar.runtime.cpu.lib import atomic_add  # noqa: E402


@numba.njit
def sequential(dest, idx, values):
    out = dest.copy()
    for k in range(idx.shape[0]):
        out[idx[k]] += values[k]
    return out


@numba.njit(parallel=True)
def private(dest, idx, values):
    n, bins, threads = idx.shape[0], dest.shape[0], numba.get_num_threads()
    part = np.zeros((threads, bins), dest.dtype)
    for t in prange(threads):
        for k in range(t * n // threads, (t + 1) * n // threads):
            part[t, idx[k]] += values[k]
    out = dest.copy()
    for j in prange(bins):
        for t in range(threads):
            out[j] += part[t, j]
    return out


@numba.njit(parallel=True)
def atomic(dest, idx, values):
    out = dest.copy()
    for k in prange(idx.shape[0]):
        atomic_add(out, idx[k], values[k])
    return out


def add_at(dest, idx, values):
    out = dest.copy()
    np.add.at(out, idx, values)
    return out


def bincount(dest, idx, values):
    return dest + np.bincount(idx, values, dest.shape[0]).astype(dest.dtype)


@parallel
def scatter_add(dest, idx, values):
    return reduce_by_index(op_add, dest, idx, values)


def cupar_cpu(dest, idx, values):
    return scatter_add(dest, idx, values, target_place=cupar.places.cpu)


SCHEMES = {"sequential": sequential, "private": private, "atomic": atomic,
           "np.add.at": add_at, "bincount": bincount, "cupar": cupar_cpu}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1 << 24)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rng, n = np.random.default_rng(0), args.size
    print(f"{n} values, {numba.get_num_threads()} threads; median ms of {args.repeat} runs")
    for dtype in ("float32", "int64"):
        for bins in dict.fromkeys((256, min(1 << 20, n), n)):
            idx = rng.integers(0, bins, n, dtype=np.int32)
            values = rng.integers(-8, 8, n).astype(dtype)  # exact in any order
            dest = np.zeros(bins, dtype)
            want = sequential(dest, idx, values)
            runs = {name: [] for name in SCHEMES}
            for name, fn in SCHEMES.items():
                assert np.array_equal(fn(dest, idx, values), want), name
            for _ in range(args.repeat):  # in turns: drift hits every scheme alike
                for name, fn in SCHEMES.items():
                    start = time.perf_counter()
                    fn(dest, idx, values)
                    runs[name].append(time.perf_counter() - start)
            shown = "  ".join(f"{k} {statistics.median(v) * 1e3:.1f}" for k, v in runs.items())
            print(f"{dtype} into {bins} bins: {shown}", flush=True)


if __name__ == "__main__":
    main()
