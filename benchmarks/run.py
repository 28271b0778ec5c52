"""cupar against NumPy, hand-written Numba and scipy (--place cpu), or against hand-written
numba-cuda kernels and CuPy (--place gpu0).

    python benchmarks/run.py [--place cpu|gpu0] [--size N] [--repeat R] [--json FILE]
                             [--only NAME,...] [--markdown FILE] [--from-json FILE]

One run measures the machine's memory bandwidth (cpu: a Numba parallel triad; gpu0: a device
to device copy), checks every implementation of every benchmark against NumPy, times them
(medians of --repeat runs after a warm-up, the implementations taking turns run by run so
that drift on a shared machine hits all of them alike), measures cupar's cold and warm-cache
start-up in fresh subprocesses (cpu) or its per-call overhead (gpu0), and writes
benchmarks/RESULTS.md (gpu0: benchmarks/RESULTS-gpu.md) and --json FILE.

Sizes follow --size N (default 2^24 on cpu, 2^26 on gpu0): 1-D benchmarks have N float32
elements, SpMV N/16 rows, softmax N/4096 rows of 1024, column sums N/1024 rows of 1024,
Mandelbrot sqrt(N/16) pixels square with 256 steps at most. A cupar program that would fall
back to the interpreter is skipped, with the reason, and never timed.

Modules: cases (inputs, NumPy code, checks), cpu_kernels / gpu_kernels (hand-written Numba),
cpu_bench / gpu_bench (running one place), timing, report / gpu_report (markdown).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import numba  # noqa: E402

import cupar  # noqa: E402
from cases import ORDER  # noqa: E402

NAMES = {"cpu": [*ORDER, "dispatch", "compile"], "gpu0": [*ORDER, "overhead"]}
DEFAULT_SIZE = {"cpu": 1 << 24, "gpu0": 1 << 26}
DEFAULT_MARKDOWN = {"cpu": HERE / "RESULTS.md", "gpu0": HERE / "RESULTS-gpu.md"}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--place", choices=sorted(NAMES), default="cpu",
                        help="where cupar runs, and against what (default cpu)")
    parser.add_argument("--size", type=int,
                        help="elements of the 1-D benchmarks (default 2^24 on cpu, 2^26 on gpu0)")
    parser.add_argument("--repeat", type=int, default=7,
                        help="timed runs per implementation after a warm-up (default 7)")
    parser.add_argument("--json", metavar="FILE", help="also write all measurements here")
    parser.add_argument("--only", metavar="NAME,...",
                        help=f"run only these, comma-separated, from: "
                             f"{', '.join(NAMES['cpu'])} (cpu), overhead (gpu0)")
    parser.add_argument("--markdown", metavar="FILE",
                        help="where to write the report (default benchmarks/RESULTS.md, "
                             "benchmarks/RESULTS-gpu.md for gpu0)")
    parser.add_argument("--from-json", metavar="FILE",
                        help="measure nothing: write the report from an earlier --json file")
    args = parser.parse_args(argv)
    args.names = NAMES[args.place]
    if args.only:
        args.names = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in args.names if s not in NAMES[args.place]]
        if unknown:
            parser.error(f"unknown benchmark {', '.join(unknown)}; choose from "
                         f"{', '.join(NAMES[args.place])}")
    args.size = args.size if args.size is not None else DEFAULT_SIZE[args.place]
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be positive")
    return args


def rewrite_report(args) -> None:
    """--from-json: the report again, for the place the measurements were taken at."""
    results = json.loads(Path(args.from_json).read_text())
    place = results["meta"].get("place", "cpu")
    target = args.markdown or DEFAULT_MARKDOWN[place]
    Path(target).write_text(render(place, results))
    print(f"wrote {target} from {args.from_json}")


def render(place: str, results: dict) -> str:
    if place == "gpu0":
        from gpu_report import markdown
    else:
        from report import markdown
    return markdown(results)


def base_meta(args) -> dict:
    from report import git_commit
    return {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "n": args.size,
            "repeat": args.repeat, "numba": numba.__version__, "numpy": np.__version__,
            "cupar": cupar.__version__, "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_before": os.getloadavg(), "commit": git_commit()}


def run_cpu(args) -> dict:
    """Every CPU row, with the triad bandwidth measured at the start and at the end: the
    fractions use the higher of the two medians."""
    import cpu_bench as C
    n, repeat = args.size, args.repeat
    meta = base_meta(args)
    meta.update(scipy=C.scipy.__version__ if C.scipy else None,
                threads=numba.get_num_threads())
    print(f"cupar benchmarks: N = {n}, repeat = {repeat}, Numba {meta['numba']} with "
          f"{meta['threads']} threads")
    print("memory bandwidth (triad) ...")
    tri = C.triad_bandwidth(n, repeat)
    print(f"  triad: {tri['gb_s']:.1f} GB/s ({tri['median_s'] * 1e3:.2f} ms)")
    results = {"meta": meta, "triad": tri, "rows": {}}
    benches = [b for b in args.names if b in ORDER]
    for k, name in enumerate(benches, 1):
        print(f"[{k}/{len(benches)}] {name} ...", flush=True)
        results["rows"][name] = C.run_benchmark(name, n, repeat, tri["gb_s"])
    print("memory bandwidth (triad) again ...")
    tri["end"] = C.triad_bandwidth(n, repeat)
    print(f"  triad: {tri['end']['gb_s']:.1f} GB/s ({tri['end']['median_s'] * 1e3:.2f} ms)")
    if tri["end"]["gb_s"] > tri["gb_s"]:
        for key in ("median_s", "gb_s"):
            tri["start_" + key], tri[key] = tri[key], tri["end"][key]
        for r in results["rows"].values():
            if "gb_s" in r:
                r["triad_fraction"] = r["gb_s"] / tri["gb_s"]
    if "dispatch" in args.names:
        print("dispatch overhead: axpy of 1000 elements ...")
        results["dispatch"] = C.dispatch_overhead(repeat)
    if "compile" in args.names:
        print("start-up: cold compile and warm cache of axpy in fresh subprocesses ...")
        results["startup"] = C.startup_times()
    meta["load_after"] = os.getloadavg()
    return results


def run_gpu(args) -> dict:
    """Every GPU row; exits with status 2, saying why, where no GPU (and no simulator) is."""
    try:
        import gpu_bench as G
    except ImportError as exc:  # no numba.cuda (numba-cuda not installed), no cupar
        print(f"--place gpu0: cannot import the GPU benchmarks ({exc})", file=sys.stderr)
        sys.exit(2)
    reason = G.device_missing()
    if reason:
        print(f"--place gpu0: {reason}", file=sys.stderr)
        sys.exit(2)
    return G.run_all(args.names, args.size, args.repeat, base_meta(args))


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        rewrite_report(args)
        return
    results = run_gpu(args) if args.place == "gpu0" else run_cpu(args)
    results["meta"]["place"] = args.place
    target = args.markdown or str(DEFAULT_MARKDOWN[args.place])
    Path(target).write_text(render(args.place, results))
    print(f"wrote {target}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
        print(f"wrote {args.json}")
    if args.place == "cpu":
        from report import targets
        met, missed = targets(results)
        print(f"targets: {len(met)} met, {len(missed)} missed (see {target})")


if __name__ == "__main__":
    main()
