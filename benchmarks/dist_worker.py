"""What benchmarks/dist.py runs under `mpiexec -n P`: allreduce timings and data-parallel
training throughput. Rank 0 writes one JSON file (the path is the last argument).

    mpiexec -n 2 python benchmarks/dist_worker.py allreduce out.json
    mpiexec -n 2 python benchmarks/dist_worker.py train out.json --batch 256 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import cupar.dist as dist

SIZES = (650, 4096, 9738, 65536, 262144, 1048576)  # float32 elements; 9738: the MLP's grads


def median_seconds(run, repeats: int) -> float:
    """The median of `repeats` timings of `run`, each started together on every rank."""
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def allreduce_timings(repeats: int) -> dict:
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rows = []
    for n in SIZES:
        a = np.ones(n, np.float32)
        out = np.empty_like(a)
        calls = max(10, 20000 // max(1, n // 650))  # batches of calls: one is microseconds

        def mpi4py_calls():
            for _ in range(calls):
                comm.Allreduce(a, out, op=MPI.SUM)

        def cupar_calls(check, into=None):
            for _ in range(calls):
                dist.allreduce(a, check=check, out=into)

        mpi4py_calls()  # warm up: first calls set up MPI's shared-memory paths
        rows.append({"floats": n, "bytes": a.nbytes,
                     "mpi4py_us": median_seconds(mpi4py_calls, repeats) / calls * 1e6,
                     "cupar_us": median_seconds(lambda: cupar_calls(True), repeats)
                     / calls * 1e6,
                     "cupar_nocheck_us": median_seconds(lambda: cupar_calls(False), repeats)
                     / calls * 1e6,
                     "cupar_out_us": median_seconds(lambda: cupar_calls(False, out), repeats)
                     / calls * 1e6})
    return {"allreduce": rows}


def plain_training(batch: int, epochs: int, tile: int) -> dict:
    """The same training in one process without DataParallel: one compiled call a step."""
    from cupar import nn
    from cupar.nn import optim
    x, y = digits(tile)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = nn.TrainStep(model, nn.CrossEntropyLoss(), opt)
    nn.fit(model, (x[:batch * 4], y[:batch * 4]), loss=None, optimizer=opt, epochs=1,
           batch_size=batch, progress=False, step=step)  # compile
    history = nn.fit(model, (x, y), loss=None, optimizer=opt, epochs=epochs,
                     batch_size=batch, progress=False, step=step, seed=1)
    return {"samples_per_s": float(np.median(history["samples_per_s"]))}


def digits(tile: int):
    from sklearn.datasets import load_digits
    data = load_digits()
    return np.tile((data.data / 16.0).astype(np.float32), (tile, 1)), \
        np.tile(data.target.astype(np.int64), tile)


def training(batch: int, epochs: int, tile: int) -> dict:
    """Digits MLP 64-128-10, SGD momentum, `batch` rows per rank; the training set tiled
    `tile` times so that every epoch has enough steps to time."""
    from cupar import nn
    from cupar.nn import optim
    from cupar.nn.parallel import DistributedStep
    x, y = digits(tile)
    nn.manual_seed(0)
    model = nn.DataParallel(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = DistributedStep(model, nn.CrossEntropyLoss(), opt)
    nn.fit(model, (x[:batch * dist.size() * 4], y[:batch * dist.size() * 4]), loss=None,
           optimizer=opt, epochs=1, batch_size=batch, progress=False, step=step)  # compile
    step.seconds = dict.fromkeys(step.seconds, 0.0)
    steps_before = opt.step_count
    history = nn.fit(model, (x, y), loss=None, optimizer=opt, epochs=epochs,
                     batch_size=batch, progress=False, step=step, seed=1)
    steps = opt.step_count - steps_before
    return {"samples_per_s": float(np.median(history["samples_per_s"])),
            "per_step_ms": {k: v / steps * 1e3 for k, v in step.seconds.items()},
            "steps": steps, "grad_bytes": int(sum(p.nbytes for p in model.parameters())),
            "same_on_all_ranks": dist.same_on_all_ranks(model.parameters())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("allreduce", "train", "plain"))
    parser.add_argument("out")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tile", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if args.what == "allreduce":
        result = allreduce_timings(args.repeats)
    elif args.what == "plain":
        result = plain_training(args.batch, args.epochs, args.tile)
    else:
        result = training(args.batch, args.epochs, args.tile)
    if dist.rank() == 0:
        with open(args.out, "w") as f:
            json.dump({"ranks": dist.size(), **result}, f)


if __name__ == "__main__":
    main()
