"""Gradients: cupar's derived programs against the forward program alone, hand-written NumPy
forward-and-backward code, and JAX's jit(value_and_grad) on the CPU (where JAX is installed:
in this interpreter, or in another one named by --jax-python, timed there in the same run).

    python benchmarks/grad_bench.py [--size N] [--repeat R] [--jax-python PATH]
                                    [--markdown FILE]

Cases: Black-Scholes (the call values' sum of N float32 options; gradients with respect to
spots and volatilities, i.e. every option's delta and vega) and a two-layer MLP's softmax
cross-entropy (batch 256, 784-256-10, float32; gradients of both layers' weights and biases).
Medians of --repeat runs taken in turns; the kernel counts of the derived programs too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "examples"))

import cupar  # noqa: E402
import grad_cases as G  # noqa: E402
from timing import OtherLoad, measure  # noqa: E402

F32 = np.float32


def kernel_count_of(fn, *args) -> int | None:
    from cupar.compiler.kernel_ir import kernel_count
    compiled = cupar.places.cpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    return None if isinstance(compiled, str) else sum(
        kernel_count(f.body) for f in compiled.kernels.functions)


def jax_times(case: str, size: int, repeat: int, python: str | None) -> dict:
    """Median ms of JAX's jit(value_and_grad) and jit(forward), in this process if JAX
    imports, else in `python`; {} where there is no JAX."""
    try:
        import jax  # noqa: F401
        return G.time_jax(case, size, repeat)
    except ImportError:
        pass
    if not python:
        return {}
    code = (f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import grad_cases as G; "
            f"print(json.dumps(G.time_jax({case!r}, {size}, {repeat})))")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    if done.returncode != 0:
        print(f"  JAX at {python} failed: {done.stderr.strip().splitlines()[-1:]}")
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_case(name: str, size: int, repeat: int, jax_python: str | None) -> dict:
    case = G.CASES[name](size)
    print(f"{name}: {case['what']}")
    problems = case["check"]()
    for p in problems:
        print(f"  FAIL {p}")
    with OtherLoad() as load:
        times = measure(case["impls"], repeat)
    ms = {k: v["median_s"] * 1e3 for k, v in times.items()}
    ms.update({f"jax {k}": v for k, v in jax_times(name, size, repeat, jax_python).items()})
    kernels = {label: kernel_count_of(fn, *case["args"]) for label, fn in case["derived"].items()}
    for label, value in ms.items():
        print(f"  {label:<28} {value:9.2f} ms")
    print(f"  kernels: {kernels}")
    return {"name": name, "what": case["what"], "ms": ms, "kernels": kernels,
            "fail": problems, "other_load": load.share}


def markdown(records: list, meta: dict) -> str:
    lines = ["# Gradient benchmarks (cpu)", "",
             f"`python benchmarks/grad_bench.py --size {meta['size']} --repeat "
             f"{meta['repeat']}` on {meta['date']}, numba {meta['numba']} with "
             f"{meta['threads']} thread(s), jax {meta['jax'] or 'not installed'}. Medians of "
             "runs taken in turns (ms); the machine has 2 cores and is shared, so ratios move "
             "by 10-20% between runs.", ""]
    for r in records:
        ms, fwd = r["ms"], r["ms"].get("cupar forward")
        lines += [f"## {r['name']}: {r['what']}", "", "| implementation | ms | ÷ cupar forward |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {v:.2f} | {v / fwd:.2f} |" for k, v in ms.items()]
        lines += ["", f"Kernels (parallel loop nests) of cupar's programs: {r['kernels']}."]
        if r["fail"]:
            lines.append(f"FAILED checks: {r['fail']}")
        if r["other_load"] and r["other_load"] > 0.1:
            lines.append(f"Other processes used {r['other_load']:.0%} of the CPUs meanwhile.")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1 << 24, help="options (default 2^24)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", help="comma-separated cases: " + ", ".join(G.CASES))
    parser.add_argument("--jax-python", help="a Python with JAX, if this one has none")
    parser.add_argument("--markdown", default=str(HERE / "RESULTS-grad.md"),
                        help="where to write the table (default benchmarks/RESULTS-grad.md)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(G.CASES)
    records = [run_case(n, args.size, args.repeat, args.jax_python) for n in names]
    import numba
    meta = {"size": args.size, "repeat": args.repeat, "numba": numba.__version__,
            "threads": numba.get_num_threads(),
            "jax": G.jax_version(args.jax_python), "date": datetime.date.today().isoformat()}
    Path(args.markdown).write_text(markdown(records, meta))
    print(f"wrote {args.markdown}")
    return 1 if any(r["fail"] for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
