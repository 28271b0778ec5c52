"""Could the gradients' allreduce overlap the backward pass here? An upper bound, measured.

    python benchmarks/dist_overlap.py [--ranks 2] [--batches 256 32] [--steps 400]

writes benchmarks/RESULTS-dist-overlap.md.

A data-parallel step (`cupar.nn.DataParallel`) runs its backward pass as one compiled call
and reduces the gradients after it. Splitting the backward pass so that the reduction of
the last layers' gradients starts while the first layers' backward still runs can at best
hide the whole reduction behind the whole gradient program. This measures that best case
directly, under `mpiexec -n P` with the digits MLP (64-128-10) at a per-rank batch:

    sequential   the gradient program, then a blocking Allreduce of the packed gradients
    overlapped   Iallreduce of a buffer as large started, the gradient program, then Wait

each with and without MPICH's asynchronous progress thread (MPIR_CVAR_ASYNC_PROGRESS=1).
If `overlapped` is not faster than `sequential`, no split of the backward pass can gain
anything on this machine. Medians over `--steps` steps, every step started together.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def worker(batch: int, steps: int, out: str) -> None:
    from mpi4py import MPI

    import cupar.dist as dist
    from cupar import nn
    from cupar.nn import optim
    from cupar.nn.parallel import DistributedStep
    from dist_worker import digits
    x, y = digits(1)
    nn.manual_seed(0)
    model = nn.DataParallel(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
    step = DistributedStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(),
                                                                   lr=0.05, momentum=0.9))
    xs, ys = x[:batch], y[:batch]
    step(xs, ys)  # compile, check the ranks agree
    gradient, _ = step.function_for(xs)
    arrays = [table[key] for table, key in step.slots]
    size = sum(a.size for a in arrays) + 2  # the packed buffer: gradients, loss, correct
    buffer = np.ones(size, np.float32)
    comm = MPI.COMM_WORLD

    def compute():
        return gradient(*arrays, xs, ys, 0, target_place=model.place)

    def sequential():
        compute()
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)

    def overlapped():
        request = comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        compute()
        request.Wait()

    def reduce_only():
        comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)

    timings = {}
    for name, run in (("compute", compute), ("allreduce", reduce_only),
                      ("sequential", sequential), ("overlapped", overlapped)) * 2:
        times = []  # the second round of each is kept: the first warms MPI's paths
        for _ in range(steps):
            comm.Barrier()
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        timings[name] = float(np.median(times)) * 1e3
    if dist.rank() == 0:
        with open(out, "w") as f:
            json.dump({"floats": size, **timings}, f)


def launch(ranks: int, batch: int, steps: int, progress_thread: bool) -> dict:
    from dist import mpiexec
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MPIR_CVAR_ASYNC_PROGRESS": "1" if progress_thread else "0"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "overlap.json")
        subprocess.run([mpiexec(), "-n", str(ranks), sys.executable, __file__, "--worker",
                        "--batch", str(batch), "--steps", str(steps), "--json", out],
                       check=True, env=env, timeout=900)
        with open(out) as f:
            return json.load(f)


def report(args) -> str:
    lines = [f"# Overlapping the allreduce with the backward pass "
             f"(`python benchmarks/dist_overlap.py`, {time.strftime('%Y-%m-%d')})", "",
             *__doc__.split("\n\n", 3)[3].strip().splitlines(), "",
             f"{args.ranks} ranks, each one Numba thread; milliseconds, medians of "
             f"{args.steps} steps; {args.runs} runs of each row.", "",
             "| per-rank batch | progress thread | floats | gradient program | allreduce | "
             "sequential | overlapped | saved |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    saved = {False: [], True: []}
    for batch in args.batches:
        for thread in (False, True):
            for _ in range(args.runs):
                r = launch(args.ranks, batch, args.steps, thread)
                saved[thread].append((r["sequential"] - r["overlapped"]) / r["sequential"])
                lines.append(
                    f"| {batch} | {'yes' if thread else 'no'} | {r['floats']} | "
                    f"{r['compute']:.3f} | {r['allreduce']:.3f} | {r['sequential']:.3f} | "
                    f"{r['overlapped']:.3f} | {r['sequential'] - r['overlapped']:+.3f} |")
                print(lines[-1], flush=True)
    lines += ["", *textwrap.wrap(
        f"Without the progress thread, overlapping saved between {min(saved[False]):.1%} "
        f"and {max(saved[False]):.1%} of a step (negative: a loss): MPICH advances a "
        "nonblocking reduction only inside MPI calls, so the reduction started before "
        "the gradient program still runs in its Wait. With the thread (2 ranks and 2 "
        "threads on the 2 cores here), the reduction itself often took milliseconds "
        "instead of microseconds; what `overlapped` saves then is time lost to the "
        "thread, not a gain over the first row. So `DataParallel` reduces after the "
        "gradient program, in one blocking call where a bucket is all there is. Overlap "
        "would pay with a progress engine that runs beside the computation (a NIC's, or "
        "a spare core), and a backward pass cut into pieces (one compiled call each).",
        width=92)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 32])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS-dist-overlap.md"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.batch, args.steps, args.json)
    text = report(args)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
