"""The CPU benchmarks: cupar at places.cpu against NumPy, hand-written Numba and scipy.

Also the bandwidth probe (a Numba parallel triad) and cupar's start-up times (cold compile and
warm cache, each in a fresh subprocess).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numba
import numpy as np

import cpu_kernels as K
import cupar
from cases import HISTOGRAMS, Case, make_case
from timing import OtherLoad, check_and_time, measure, timed

try:
    import scipy
    import scipy.sparse
except ImportError:  # optional: the SpMV row then has no scipy column
    scipy = None

HERE = Path(__file__).resolve().parent
F32 = np.float32
CPU = cupar.places.cpu


def chunks():
    return 4 * numba.get_num_threads()


def saxpy_reused(a, x, y, out):
    K.nb_triad(a, x, y, out)
    return out


def numba_impl(case: Case):
    """The hand-written Numba call for a case, as a function of the case's arguments.
    The reductions wrap their result in float32: Numba boxes a float32 as a Python float."""
    k = chunks()
    return {
        "saxpy": K.nb_saxpy,
        "saxpy_reused": saxpy_reused,
        "black_scholes": K.nb_black_scholes,
        "sum": lambda x: F32(K.nb_sum(x)),
        "dot": lambda x, y: F32(K.nb_dot(x, y)),
        "nrm2": lambda x: F32(K.nb_nrm2(x)),
        "distance": lambda x, y: F32(K.nb_distance(x, y)),
        "scan": lambda x: K.nb_cumsum(x, k),
        "scan_reused": lambda x, out: K.nb_cumsum_into(x, out, k),
        "gather": K.nb_gather,
        "scatter": K.nb_permute,
        "filter": lambda x: K.nb_positives(x, k),
        "sort_f32": K.nb_sort,
        "sort_i32": K.nb_sort,
        "spmv": K.nb_spmv,
        "spmv_rows": K.nb_spmv_fast,
        "softmax": K.nb_softmax,
        "column_sums": K.nb_column_sums,
        "mandelbrot": K.nb_mandelbrot,
        **{name: lambda d, i, v: K.nb_scatter_add(d, i, v, numba.get_num_threads())
           for name in HISTOGRAMS},
        "matmul_1024": K.nb_matmul,
        "matmul_mid": K.nb_matmul,
        "matmul_small": K.nb_matmul,
        "linear_relu": K.nb_linear_relu,
    }[case.name]


def cpu_impls(case: Case) -> dict:
    """label -> zero-argument callable: NumPy, hand-written Numba, scipy for SpMV,
    np.bincount for histograms."""
    args, nb = case.args, numba_impl(case)
    impls = {"numpy": lambda: case.numpy(np, *args), "numba": lambda: nb(*args)}
    if case.name.startswith("spmv") and scipy is not None:
        values, columns, offsets, x = args
        rows = len(offsets) - 1
        matrix = scipy.sparse.csr_matrix((values, columns, offsets), shape=(rows, rows))
        impls["scipy"] = lambda: matrix @ x
    if case.name in HISTOGRAMS:  # NumPy's other way: float64 weights, cast back
        dest, idx, values = args
        impls["bincount"] = lambda: dest + np.bincount(idx, values, dest.shape[0]).astype(
            dest.dtype)
    return impls


def triad_bandwidth(n: int, repeat: int) -> dict:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, n), dtype=F32)
    out = np.empty_like(x)
    a = F32(1.5)
    K.nb_triad(a, x, y, out)  # compile and warm up
    K.nb_triad(a, x, y, out)
    with OtherLoad() as load:
        runs = [timed(lambda: K.nb_triad(a, x, y, out)) for _ in range(max(repeat, 3) * 3)]
    med = statistics.median(runs)
    return {"bytes": 3 * 4 * n, "median_s": med, "gb_s": 3 * 4 * n / med / 1e9, "runs_s": runs,
            "other_load": load.share}


def add_cupar(case: Case, impls: dict, record: dict) -> None:
    """cupar's column, unless the program would fall back to the interpreter (then skipped,
    with the reason, and never timed)."""
    fn, args, keywords = case.program, case.program_args(), case.program_keywords()
    reason = CPU.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    if isinstance(reason, str):
        message = f"cupar falls back to the interpreter: {reason}"
        print(f"  SKIP {case.name}/cupar: {message}")
        record["skipped"]["cupar"] = message
        return
    impls["cupar"] = lambda: fn(*args, target_place=CPU, **keywords)
    serial = serialised_loops(reason, args)
    if serial:
        print(f"  note {case.name}/cupar: {serial}")
        record["notes"].append(serial)


def run_benchmark(name: str, n: int, repeat: int, triad_gbs: float) -> dict:
    case = make_case(name, n)
    record = {"name": name, "what": case.what, "bytes": case.bytes, "fail": {},
              "skipped": {}, "notes": list(case.notes)}
    impls = cpu_impls(case)
    if case.program is not None:
        add_cupar(case, impls, record)
    impls = {k: calling(f, case.calls) for k, f in impls.items()}
    ms = check_and_time(record, impls, case.check, repeat, settle_s=case.settle_s)
    if "cupar" in ms:
        if "numba" in ms:
            record["cupar_over_numba"] = ms["cupar"] / ms["numba"]
        if "numpy" in ms:
            record["numpy_over_cupar"] = ms["numpy"] / ms["cupar"]
        if "scipy" in ms:
            record["scipy_over_cupar"] = ms["scipy"] / ms["cupar"]
    who = "cupar" if "cupar" in ms else "numba"
    if case.bytes and who in ms:
        record["gb_s_of"] = who
        record["gb_s"] = case.bytes / (ms[who] / 1e3) / 1e9
        record["triad_fraction"] = record["gb_s"] / triad_gbs
    shown = "  ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
    share = record["other_load"]
    busy = f"  (other processes: {share:.0%} CPU)" if share is not None else ""
    print(f"  {name}: {shown}{busy}")
    return record


def calling(fn, calls: int):
    """`fn` made to run `calls` times (returning the last result)."""
    def run():
        for _ in range(calls - 1):
            fn()
        return fn()
    return fn if calls == 1 else run


def serialised_loops(compiled, args) -> str | None:
    """What Numba says about the parallel loops of cupar's generated code: the source is
    compiled once more, uncached, and run once, recording Numba's performance warnings (cupar
    itself silences them). Diagnostics only: any failure here is ignored."""
    import importlib.util
    import warnings
    from numba.core.errors import NumbaPerformanceWarning
    try:
        from cupar.runtime.dispatch import flatten_arg
        entry = compiled.kernels.entry.name
        with tempfile.TemporaryDirectory(prefix="cupar-bench-diag-") as tmp:
            path = Path(tmp) / f"diag_{entry}.py"
            path.write_text(compiled.source.replace("cache=True", "cache=False"))
            spec = importlib.util.spec_from_file_location(f"cupar_bench_diag_{entry}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            flat: list = []
            for a in args:
                flatten_arg(a, flat)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", NumbaPerformanceWarning)
                getattr(module, entry)(*flat)
    except Exception:
        return None
    messages = sorted({" ".join(str(w.message).split()).split(" File ")[0].split(". ")[0]
                       for w in caught if issubclass(w.category, NumbaPerformanceWarning)})
    if not messages:
        return None
    return "Numba's diagnostics on cupar's generated code: " + "; ".join(messages)



# =============================================================================================
# Dispatch: what a cached call costs beyond its work.
# =============================================================================================
DISPATCH_N, DISPATCH_CALLS = 1000, 2000


def dispatch_overhead(repeat: int) -> dict:
    """Median microseconds per call of a 1,000-element axpy (serial code at this size):
    through cupar's dispatch, through a direct call of the Numba dispatcher of the very
    function cupar generated, and through the hand-written Numba kernel. Each median is over
    `repeat` batches of DISPATCH_CALLS calls, the three taking turns batch by batch."""
    from cupar.runtime.dispatch import flatten_arg
    from programs import saxpy
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, DISPATCH_N), dtype=F32)
    a = F32(1.5)
    compiled = CPU.compiled_or_reason(saxpy.stages_for(saxpy.argument_types((a, x, y))))
    flat: list = []
    flatten_arg((a, x, y), flat)
    impls = {"cupar": lambda: saxpy(a, x, y, target_place=CPU),
             "generated entry (raw Numba call)": lambda: compiled.entry(*flat),
             "hand-written numba": lambda: K.nb_saxpy(a, x, y)}
    for fn in impls.values():
        assert np.allclose(fn(), a * x + y)

    def batch(fn):
        def run():
            for _ in range(DISPATCH_CALLS):
                fn()
        return run
    times = measure({k: batch(v) for k, v in impls.items()}, max(repeat, 5))
    us = {k: t["median_s"] / DISPATCH_CALLS * 1e6 for k, t in times.items()}
    us["cupar dispatch overhead"] = us["cupar"] - us["generated entry (raw Numba call)"]
    print("  " + "  ".join(f"{k} {v:.2f} us" for k, v in us.items()))
    return {"n": DISPATCH_N, "calls": DISPATCH_CALLS, "us": us}


# =============================================================================================
# Start-up: cold compile and warm cache, each in a fresh subprocess.
# =============================================================================================
STARTUP = r"""
import json, sys, time
if {hide_scipy}:
    sys.modules["scipy"] = None  # as where cupar alone is installed: `import scipy` fails
t0 = time.perf_counter()
import cupar
t_import = time.perf_counter()
sys.path.insert(0, {bench_dir!r})
from programs import saxpy
import numpy as np
x = np.ones({n}, np.float32)
y = np.ones({n}, np.float32)
numba_before_call = "numba" in sys.modules
t1 = time.perf_counter()
z = saxpy(np.float32(2), x, y)
t2 = time.perf_counter()
assert z[0] == 3.0
print(json.dumps({{"import_s": t_import - t0, "first_call_s": t2 - t1, "total_s": t2 - t0,
                  "numba_loaded_before_call": numba_before_call}}))
"""


IMPORT_NUMBA = ("import time; t = time.perf_counter(); import numba; "
                "print(time.perf_counter() - t)")


def startup_times(pairs: int = 3) -> dict:
    """`pairs` times: a process with an empty CUPAR_CACHE_DIR (cold), then one with the same
    directory (warm). 1M elements, so the first call also takes the parallel path."""
    code = STARTUP.format(bench_dir=str(HERE), n=1 << 20, hide_scipy=False)
    hidden = STARTUP.format(bench_dir=str(HERE), n=1 << 20, hide_scipy=True)
    cold, warm, bare, numba_import = [], [], [], []
    for k in range(pairs):
        done = subprocess.run([sys.executable, "-c", IMPORT_NUMBA], capture_output=True,
                              text=True, timeout=600, check=True)
        numba_import.append(float(done.stdout.strip().splitlines()[-1]))
        with tempfile.TemporaryDirectory(prefix="cupar-bench-cache-") as cache:
            env = dict(os.environ, CUPAR_CACHE_DIR=cache)
            for bucket, source in ((cold, code), (warm, code), (bare, hidden)):
                done = subprocess.run([sys.executable, "-c", source], env=env,
                                      cwd=str(HERE.parent), capture_output=True, text=True,
                                      timeout=600)
                if done.returncode != 0:
                    raise RuntimeError(f"start-up subprocess failed:\n{done.stderr}")
                bucket.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  pair {k + 1}/{pairs}: cold first call {cold[-1]['first_call_s']:.3f} s; "
              f"warm first call {warm[-1]['first_call_s']:.3f} s, import to result "
              f"{warm[-1]['total_s']:.3f} s; warm without scipy {bare[-1]['first_call_s']:.3f} s")

    def med(runs, key):
        return statistics.median(r[key] for r in runs)
    return {"cold": cold, "warm": warm, "import_numba_s": statistics.median(numba_import),
            "import_numba_runs_s": numba_import,
            "cold_first_call_s": med(cold, "first_call_s"),
            "cold_import_s": med(cold, "import_s"),
            "warm_first_call_s": med(warm, "first_call_s"),
            "warm_no_scipy": bare, "warm_no_scipy_first_call_s": med(bare, "first_call_s"),
            "warm_total_s": med(warm, "total_s"),
            "warm_import_s": med(warm, "import_s")}

