"""Neural-network training throughput: samples per second of whole training steps (shuffle,
forward, loss, backward, optimiser update) of small models on the CPU, data in memory.

    python benchmarks/nn.py [--repeats R] [--only mlp,cnn,...] [--impl numpy,torch]
                            [--threads 2,1] [--accuracy] [--quick] [--out FILE]

Cases (benchmarks/nn_models.py has the data and the trainers):

* mlp: digits (1437 training images of 64 pixels), 64-128-10 MLP, SGD momentum 0.9, at batch
  32 and 256;
* cnn: digits as 1x8x8 images, two 3x3 convolutions, max-pooling and two linear layers, at
  batch 32;
* gru, lstm: mnist1d (4000 sequences of 40 values), one recurrent layer of 64 whose last
  state is classified, Adam, at batch 100.

Implementations: cupar, hand-written NumPy (the MLP only) and PyTorch on the CPU, once per
thread count of --threads (cupar: numba.set_num_threads, as its loops and its products'
tiles run on Numba's threads; NumPy's BLAS threads, by threadpoolctl; torch.set_num_threads;
default:
the core count, and 1: on a shared machine, threads that wait for one another at every small
operation can be slowed many-fold by another process's load). A timed run is a few whole
epochs (each shuffled by a NumPy Generator shared by all implementations, the last batch
short); the implementations take turns run by run after an untimed warm-up run, and the
table gives the median of --repeats runs in samples/s. `--accuracy` also trains a fresh
model per case and implementation for the case's schedule (MLP 30 epochs, CNN 15, GRU and
LSTM 75 = 3000 steps at batch 100) and reports its test accuracy (at the implementation's
fastest thread count).

cupar's trainers (benchmarks/nn_cupar.py), compiled before timing: `cupar` trains as
`nn.fit` does, an epoch in one compiled call (`TrainStep.run`), `cupar-step` makes one
compiled call per step (`nn.TrainStep`). Both run with subnormal floats flushed to zero, as
cupar.nn's training does; `numpy-ftz` and `torch-ftz` are NumPy and PyTorch with them
flushed as well (the x86 FTZ and DAZ bits on the training thread: cupar's
`subnormals_flushed`, torch.set_flush_denormal), since a trained classifier's softmax and
momentum buffers make subnormals, which each cost an x86 core a micro-code assist.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nn_cupar as C  # noqa: E402
import nn_models as M  # noqa: E402
from timing import BUSY, SPREAD, OtherLoad, measure  # noqa: E402


@dataclass(frozen=True)
class Model:
    what: str
    data: object  # () -> (x_train, y_train, x_test, y_test)
    batches: tuple  # batch sizes timed
    run_epochs: dict  # batch size -> epochs per timed run
    accuracy_epochs: int  # the training schedule of --accuracy


MODELS = {
    "mlp": Model("digits, MLP 64-128-10, SGD momentum 0.9", M.digits, (32, 256),
                 {32: 10, 256: 40}, 30),
    "cnn": Model("digits 1x8x8, CNN conv16-conv32-pool-fc64-fc10, SGD momentum 0.9",
                 M.digits_images, (32,), {32: 2}, 15),
    "gru": Model("mnist1d 40x1, GRU 64 -> linear, Adam", M.mnist1d_sequences, (100,),
                 {100: 1}, 75),
    "lstm": Model("mnist1d 40x1, LSTM 64 -> linear, Adam", M.mnist1d_sequences, (100,),
                  {100: 1}, 75),
}

# Implementation -> model -> factory(data, seed) -> trainer. A model an implementation lacks
# is left out of its entry. cupar's entry goes here once cupar.nn trains these models.
TRAINERS = {
    "cupar": C.TRAINERS,
    "cupar-step": C.STEP_TRAINERS,
    "numpy": {"mlp": M.NumpyMLP},
    "numpy-ftz": {"mlp": M.flushing_subnormals(M.NumpyMLP, "numpy")},
    "torch": {"mlp": M.TorchMLP, "cnn": M.TorchCNN, "gru": M.TorchGRU, "lstm": M.TorchLSTM},
    "torch-ftz": {name: M.flushing_subnormals(cls, "torch") for name, cls in
                  {"mlp": M.TorchMLP, "cnn": M.TorchCNN, "gru": M.TorchGRU,
                   "lstm": M.TorchLSTM}.items()},
}

# The baseline a model's ratios are taken against: an implementation, or None for the fastest
# PyTorch row.
REFERENCE = {"mlp": "numpy"}

QUICK_BATCHES = 3  # --quick: a timed run is 3 batches, once; --accuracy trains 3 epochs
QUICK_EPOCHS = 3


@dataclass
class Row:
    model: str
    batch: int
    impl: str  # the implementation (a TRAINERS key)
    label: str  # what the table calls it ("torch 2 threads")
    threads: int | None = None  # torch's intra-op threads
    samples_per_s: float | None = None
    runs_s: list | None = None
    samples_per_run: int = 0
    accuracy: float | None = None
    accuracy_epochs: int | None = None
    skipped: str | None = None


# timed once per --threads value
THREADED = ("cupar", "cupar-step", "numpy", "torch", "numpy-ftz", "torch-ftz")


def set_threads(row: Row):
    """Set the thread count of the row's library: cupar's (Numba's threads), NumPy's BLAS
    (by threadpoolctl), torch's intra-op threads; nothing for one not in THREADED."""
    if row.threads is None:
        return
    if row.impl.startswith("cupar"):
        import numba  # (cupar's loops and its matrix products' tiles run on Numba's threads)
        numba.set_num_threads(min(row.threads, numba.config.NUMBA_NUM_THREADS))
    elif row.impl.startswith("torch"):
        M.torch_or_reason().set_num_threads(row.threads)
    elif row.impl.startswith("numpy"):
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=row.threads, user_api="blas")


def rows_for(model: str, batch: int, impls: list, threads: list) -> list:
    """One row per implementation that has `model`, per thread count for NumPy (where
    threadpoolctl is installed) and torch; torch's rows carry the reason instead where PyTorch
    is not importable."""
    rows = []
    for impl in impls:
        if model not in TRAINERS.get(impl, {}):
            continue
        counts = threads if impl in THREADED else [None]
        if impl.startswith("numpy") and not blas_threads_settable():
            counts = [None]
        torch = M.torch_or_reason() if impl.startswith("torch") else None
        for n in counts:
            label = impl if n is None else f"{impl} {n} thread{'s' if n > 1 else ''}"
            rows.append(Row(model, batch, impl, label, threads=n,
                            skipped=torch if isinstance(torch, str) else None))
    return rows


def blas_threads_settable() -> bool:
    try:
        import threadpoolctl  # noqa: F401
        return True
    except ImportError:
        return False


def timed_run(row: Row, data, epochs: int, quick: bool):
    """A trainer for `row` and a function that trains it for one timed run, and the samples
    one run takes."""
    x, y = data[0], data[1]
    if quick:
        x, y, epochs = x[:QUICK_BATCHES * row.batch], y[:QUICK_BATCHES * row.batch], 1
    trainer = TRAINERS[row.impl][row.model](data, 0)
    rng = np.random.default_rng(1)

    def run():
        set_threads(row)
        for _ in range(epochs):
            trainer.train_epoch(x, y, row.batch, rng)
    return run, epochs * len(x)


def time_case(rows: list, data, epochs: int, repeats: int, quick: bool) -> float | None:
    """Fill the rows' samples/s: medians of runs taken in turns. Returns the other processes'
    share of the CPUs meanwhile."""
    runs = {}
    for row in rows:
        if not row.skipped:
            runs[row.label], row.samples_per_run = timed_run(row, data, epochs, quick)
    with OtherLoad() as load:
        times = measure(runs, repeats)
    for row in rows:
        if row.label in times:
            row.runs_s = times[row.label]["runs_s"]
            row.samples_per_s = row.samples_per_run / times[row.label]["median_s"]
            print(f"  {row.label:<18} {row.samples_per_s:12,.0f} samples/s "
                  f"({len(row.runs_s)} runs of {row.samples_per_run} samples)")
        else:
            print(f"  {row.label:<18} skipped: {row.skipped}")
    return load.share


def measure_accuracy(rows: list, data, epochs: int):
    """Train a fresh model per implementation (at its fastest thread count) for
    `epochs` epochs; the test accuracy goes into every row of that implementation."""
    best = {}
    for row in rows:
        if row.samples_per_s and (row.impl not in best or
                                  row.samples_per_s > best[row.impl].samples_per_s):
            best[row.impl] = row
    for impl, row in best.items():
        trainer = TRAINERS[impl][row.model](data, 0)
        set_threads(row)
        accuracy = M.train(trainer, data, row.batch, epochs, seed=0)
        print(f"  {row.label:<18} test accuracy {accuracy:.4f} after {epochs} epochs")
        for r in rows:
            if r.impl == impl:
                r.accuracy, r.accuracy_epochs = accuracy, epochs


def reference_speed(model: str, rows: list) -> float | None:
    """Samples/s of the row a model's ratios are taken against."""
    impl = REFERENCE.get(model)
    speeds = [r.samples_per_s for r in rows if r.samples_per_s and
              (r.impl == impl if impl else r.impl == "torch")]
    return max(speeds) if speeds else None


def machine() -> dict:
    facts = {"cores": os.cpu_count(),
             "cpu": cpu_model(), "python": platform.python_version(),
             "numpy": np.__version__, "blas": blas_threads()}
    torch = M.torch_or_reason()
    if isinstance(torch, str):
        facts["torch"] = torch
    else:
        facts["torch"] = (f"{torch.__version__} (intra-op threads as in each row, "
                          f"inter-op threads {torch.get_num_interop_threads()}, parallel "
                          f"backend {torch.__config__.parallel_info().splitlines()[-1].strip()})")
    return facts


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return names[0] if names else platform.processor()
    except OSError:
        return platform.processor() or "unknown"


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    forced = os.environ.get("OPENBLAS_CORETYPE")  # (OpenBLAS's kernels as the user chose)
    return ", ".join(f"{i['internal_api']} {i.get('version') or ''} {i['num_threads']} threads"
                     .replace("  ", " ") + kernels_of(i, forced) for i in threadpool_info())


def kernels_of(info: dict, forced: str | None) -> str:
    if not info.get("architecture"):
        return ""
    chosen = f"OPENBLAS_CORETYPE={forced} in the environment" if forced else "detected"
    return f", {info['architecture']} kernels ({chosen})"


def markdown(rows: list, notes: dict, meta: dict) -> str:
    lines = ["# Neural-network training throughput (cpu)", "",
             f"`{meta['command']}` on {meta['date']}. Samples per second of whole training "
             "steps (shuffle, forward, softmax cross-entropy, backward, optimiser update), data "
             "in memory; the median of runs of a few epochs each, the implementations taking "
             "turns run by run. Ratio: against the hand-written NumPy MLP for the MLP, against "
             "the fastest PyTorch row for the others.", "",
             "| model | batch | implementation | samples/s | ÷ reference | test accuracy |",
             "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        ref = reference_speed(r.model, [q for q in rows if (q.model, q.batch) ==
                                        (r.model, r.batch)])
        speed = f"{r.samples_per_s:,.0f}" if r.samples_per_s else f"skipped: {r.skipped}"
        ratio = f"{r.samples_per_s / ref:.2f}" if r.samples_per_s and ref else ""
        acc = (f"{r.accuracy:.3f} ({r.accuracy_epochs} epochs)" if r.accuracy is not None
               else "")
        lines.append(f"| {r.model} | {r.batch} | {r.label} | {speed} | {ratio} | {acc} |")
    lines += ["", "Models:", ""]
    lines += [f"* {name}: {MODELS[name].what}" for name in dict.fromkeys(r.model for r in rows)]
    lines += ["", "Machine:", ""] + [f"* {k}: {v}" for k, v in meta["machine"].items()]
    flagged = [f"* {case}: {note}" for case, note in notes.items() if note]
    if flagged:
        lines += ["", "Notes:", ""] + flagged
    return "\n".join(lines) + "\n"


def case_note(rows: list, load: float | None) -> str:
    """What makes a case's numbers less trustworthy: a wide spread or a busy machine."""
    notes = [f"{r.label}'s runs spread {max(r.runs_s) / min(r.runs_s):.1f}x" for r in rows
             if r.runs_s and len(r.runs_s) > 1 and max(r.runs_s) > SPREAD * min(r.runs_s)]
    if load is not None and load > BUSY:
        notes.append(f"other processes used {load:.0%} of the CPUs meanwhile")
    return "; ".join(notes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per row (median)")
    parser.add_argument("--only", help="comma-separated models: " + ", ".join(MODELS))
    parser.add_argument("--impl", help="comma-separated implementations: " + ", ".join(TRAINERS))
    parser.add_argument("--threads", default=f"{os.cpu_count() or 1},1",
                        help="comma-separated thread counts of NumPy's BLAS and torch, one row "
                             "each (default: the core count, and 1)")
    parser.add_argument("--accuracy", action="store_true",
                        help="also train each model for its schedule and report test accuracy")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke test: {QUICK_BATCHES} batches per run, one run; "
                             f"--accuracy after {QUICK_EPOCHS} epochs")
    parser.add_argument("--out", default=str(HERE / "RESULTS-nn.md"),
                        help="where to write the table (default benchmarks/RESULTS-nn.md)")
    args = parser.parse_args(argv)
    models = args.only.split(",") if args.only else list(MODELS)
    impls = args.impl.split(",") if args.impl else list(TRAINERS)
    threads = list(dict.fromkeys(int(n) for n in args.threads.split(",")))
    repeats = 1 if args.quick else args.repeats
    rows, notes, cache, facts = [], {}, {}, None
    for name in models:
        model = MODELS[name]
        data = cache.get(model.data) or cache.setdefault(model.data, model.data())
        facts = facts or machine()  # the libraries loaded, their threads before any row's
        for batch in model.batches:
            print(f"{name} batch {batch}: {model.what}")
            case = rows_for(name, batch, impls, threads)
            load = time_case(case, data, model.run_epochs[batch], repeats, args.quick)
            if args.accuracy:
                measure_accuracy(case, data, QUICK_EPOCHS if args.quick else
                                 model.accuracy_epochs)
            notes[f"{name} batch {batch}"] = case_note(case, load)
            rows += case
    command = " ".join(["python benchmarks/nn.py"] + (argv if argv is not None else
                                                      sys.argv[1:]))
    Path(args.out).write_text(markdown(rows, notes, {"command": command, "machine": facts,
                                                     "date": datetime.date.today()}))
    print(f"wrote {args.out}")
    return 0 if any(r.samples_per_s for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
