"""float32 matrix products at the sizes neural networks use: cupar's tiled kernel against
NumPy (OpenBLAS), hand-written Numba, and Numba calling BLAS (`np.dot` inside njit, which
needs SciPy; that column is left out without it).

    python benchmarks/matmul_sizes.py [--repeat R]

Each implementation is timed in its own block (a pause first: OpenBLAS's threads spin for
about 0.1 s after a call, taking the cores from whatever runs next), as the median of R
blocks of calls; small products are timed over many calls a block.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cpu_kernels as K  # noqa: E402
import cupar  # noqa: E402
from programs import linear_relu, product  # noqa: E402

SIZES = [(32, 64, 128), (32, 256, 256), (128, 256, 256), (256, 512, 512), (1024, 1024, 64),
         (1024, 1024, 1024), (32, 1024, 1024), (1024, 64, 1024)]  # (batch, k, width)


@numba.njit
def blas_dot(a, b):
    return np.dot(a, b)


def blas_available() -> bool:
    try:
        blas_dot(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))
        return True
    except Exception:  # Numba's np.dot needs SciPy's BLAS
        return False


def per_call(fn, repeat: int, calls: int) -> float:
    """Median seconds a call over `repeat` blocks of `calls` calls, after a pause."""
    time.sleep(0.3)
    fn()
    blocks = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        blocks.append((time.perf_counter() - t) / calls)
    return statistics.median(blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    blas = blas_available()
    print(f"Numba {numba.__version__}, {numba.get_num_threads()} threads; BLAS in Numba: "
          f"{'yes' if blas else 'no (SciPy missing)'}; medians of {repeat} blocks")
    print("batch x k @ k x width: us per call (GFLOP/s of cupar); cupar/numpy")
    rng = np.random.default_rng(0)
    cpu = cupar.places.cpu
    for n, k, m in SIZES:
        a, b = rng.standard_normal((n, k), dtype=np.float32), rng.standard_normal(
            (k, m), dtype=np.float32)
        bias = rng.standard_normal(m, dtype=np.float32)
        impls = {"numpy": lambda: a @ b, "numba": lambda: K.nb_matmul(a, b),
                 "cupar": lambda: product(a, b, target_place=cpu),
                 "cupar+bias+relu": lambda: linear_relu(a, b, bias, target_place=cpu)}
        if blas:
            impls["numba np.dot"] = lambda: blas_dot(a, b)
        calls = max(1, min(2000, int(2e8 // (n * k * m))))
        times = {label: per_call(fn, repeat, calls) for label, fn in impls.items()}
        flops = 2 * n * k * m / times["cupar"] / 1e9
        shown = "  ".join(f"{label} {t * 1e6:.1f}" for label, t in times.items())
        print(f"{n}x{k} @ {k}x{m}: {shown}  ({flops:.0f} GFLOP/s); "
              f"cupar/numpy {times['cupar'] / times['numpy']:.2f}")


if __name__ == "__main__":
    main()
