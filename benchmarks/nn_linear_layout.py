"""Which weight layout `cupar.nn.functional.linear` stores: (in, out), `matmul(x, w)`, or
torch's (out, in), `matmul(x, transpose(w))`. Times the forward pass and the gradient of a
scalar of it (both weights and bias) at cpu, float32, 784 -> 256, batch 32 and 256; the
fastest of many calls, interleaved, as the development machine is shared.

    python benchmarks/nn_linear_layout.py
"""

import time

import numpy as np

import cupar
from cupar import *  # noqa: F401,F403


@parallel
def in_out(x, w, b):
    return map(lambda row: map(lambda v, bi: v + bi, row, b), matmul(x, w))


@parallel
def out_in(x, w, b):
    return map(lambda row: map(lambda v, bi: v + bi, row, b), matmul(x, transpose(w)))


@parallel
def loss_in_out(x, w, b):
    return sum(map(lambda r: sum(map(lambda v: v * v, r)), in_out(x, w, b)))


@parallel
def loss_out_in(x, w, b):
    return sum(map(lambda r: sum(map(lambda v: v * v, r)), out_in(x, w, b)))


def fastest_us(calls, repeats=300):
    """The fastest time of each call in microseconds, the calls interleaved."""
    best = [float("inf")] * len(calls)
    for fn, args in calls:
        fn(*args)  # compile
    for _ in range(repeats):
        for k, (fn, args) in enumerate(calls):
            t = time.perf_counter()
            fn(*args)
            best[k] = min(best[k], time.perf_counter() - t)
    return [b * 1e6 for b in best]


def main():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((784, 256)).astype(np.float32)
    wt, b = np.ascontiguousarray(w.T), np.zeros(256, np.float32)
    grad_io, grad_oi = cupar.grad(loss_in_out, (1, 2)), cupar.grad(loss_out_in, (1, 2))
    print("batch | forward (in,out) | forward (out,in) | grad (in,out) | grad (out,in)  [us]")
    for batch in (32, 256):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        times = fastest_us([(in_out, (x, w, b)), (out_in, (x, wt, b)),
                            (grad_io, (x, w, b)), (grad_oi, (x, wt, b))])
        print(f"{batch:5d} | " + " | ".join(f"{t:16.0f}" for t in times))


if __name__ == "__main__":
    main()
