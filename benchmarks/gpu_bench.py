"""The GPU benchmarks: cupar at places.gpu0 against hand-written numba-cuda kernels and CuPy.

Every implementation gets its inputs already on the device (its own copy, in its own kind of
device array) and returns device arrays, or a host scalar for a reduction; the check copies
results back and compares them with the case's NumPy answer. Times are taken with the device
synchronised before the clock starts and before it stops. The bandwidth probe is a device to
device copy of N float32 (bytes read plus written), measured at the start and the end of the
run; per-call overhead is the median time of a 1,000-element axpy on device-resident inputs.

CuPy is optional (a column skipped with the reason), and so is cupar's GPU back end: until
`cupar.places.gpu0.available`, its column is skipped with `gpu0.missing()` as the reason.
"""

from __future__ import annotations

import statistics
import sys
from importlib import metadata
from typing import NamedTuple

import numpy as np
from numba import cuda

import cupar
import gpu_kernels as G
import programs as P
from cases import HISTOGRAMS, ORDER, Case, make_case, saxpy_check
from timing import OtherLoad, check_and_time, timed

GPU = cupar.places.gpu0
F32 = np.float32
SCALAR_RESULTS = ("sum", "dot", "nrm2", "distance")
OVERHEAD_N = 1000
OVERHEAD_CALLS = 20 if G.SIMULATED else 2000

if G.SIMULATED:
    # The simulator runs each CUDA thread as a Python thread, and every barrier waits for the
    # interpreter to switch threads: a short switch interval makes barrier-heavy kernels
    # (scan, filter, reductions) several times quicker to simulate.
    sys.setswitchinterval(1e-4)


def device_missing() -> str | None:
    """Why nothing can run on a GPU here, or None (a GPU, or the simulator, is present)."""
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # a broken CUDA install reports itself many ways
        return f"CUDA could not be initialised ({exc})"
    return ("no CUDA GPU or driver was found (set NUMBA_ENABLE_CUDASIM=1 to run tiny sizes "
            "under Numba's CUDA simulator)")


def cupar_ready() -> bool:
    return bool(getattr(GPU, "available", False))


def cupar_missing() -> str:
    return f"cupar.places.gpu0 is unavailable: {GPU.missing()}"


def sync() -> None:
    """Waits for all work on the device. Numba, CuPy and cupar share the primary context,
    whose synchronisation covers every stream; cupar's own is called too, for good measure."""
    cuda.synchronize()
    if cupar_ready():
        GPU.synchronize()


def to_host(value):
    """A result as NumPy: device arrays of any kind (and tuples of them) copied back."""
    if isinstance(value, tuple):
        return tuple(to_host(v) for v in value)
    if hasattr(value, "columns"):  # cupar's sequence of tuples: its columns
        return tuple(to_host(c) for c in value.columns)
    if hasattr(value, "copy_to_host"):
        return value.copy_to_host()
    if type(value).__module__.startswith("cupy"):
        return value.get()
    return np.asarray(value) if not np.isscalar(value) else value


class Cupy(NamedTuple):
    module: object     # cupy, or None
    missing: str | None  # why there is no CuPy column, or None

    def skipped(self) -> dict:
        return {"cupy": self.missing} if self.missing else {}


def load_cupy() -> Cupy:
    if G.SIMULATED:
        return Cupy(None, "CuPy does not run on Numba's CUDA simulator")
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
        return Cupy(cupy, None)
    except Exception as exc:  # ImportError, or a CuPy built for another CUDA
        return Cupy(None, f"CuPy is not usable here ({type(exc).__name__}: {exc})")


def on_device(args: tuple, convert) -> tuple:
    """Arrays converted to one kind of device array; scalars passed as they are."""
    return tuple(convert(a) if isinstance(a, np.ndarray) else a for a in args)


# -- the implementations ----------------------------------------------------------------------
FASTMATH_CASES = ("mandelbrot", "black_scholes")
CUDA = {
    "saxpy": G.saxpy, "saxpy_reused": G.saxpy_into, "black_scholes": G.black_scholes,
    "sum": G.sum_of, "dot": G.dot, "nrm2": G.nrm2, "scan": G.inclusive_scan,
    "scan_reused": G.inclusive_scan_into,
    "gather": G.gather, "scatter": G.permute, "filter": G.positives, "sort_f32": G.sort,
    "sort_i32": G.sort, "spmv": G.spmv, "softmax": G.softmax, "column_sums": G.column_sums,
    "mandelbrot": G.mandelbrot, **{name: G.scatter_add for name in HISTOGRAMS},
}


def cupy_impl(case: Case, cp):
    """The CuPy user's code: the case's NumPy code with xp=cupy, a cupyx CSR matrix for SpMV,
    and a reduction's scalar fetched to the host as the other columns' are."""
    args = on_device(case.args, cp.asarray)
    if case.name.startswith("spmv"):
        from cupyx.scipy.sparse import csr_matrix
        values, columns, offsets, x = args
        rows = offsets.shape[0] - 1
        matrix = csr_matrix((values, columns, offsets), shape=(rows, rows))
        return lambda: matrix @ x
    if case.name in SCALAR_RESULTS:
        return lambda: F32(case.numpy(cp, *args).get())
    return lambda: case.numpy(cp, *args)


def add_cupar(case: Case, impls: dict, record: dict) -> None:
    """cupar's column, or the reason it is skipped (no GPU back end yet, or no program)."""
    if not cupar_ready():
        record["skipped"]["cupar"] = cupar_missing()
        print(f"  SKIP {case.name}/cupar: {record['skipped']['cupar']}")
        return
    try:
        args = on_device(case.args, GPU.to_device)
    except Exception as exc:
        record["fail"]["cupar"] = f"raised {type(exc).__name__} in to_device: {exc}"
        print(f"  FAIL {case.name}/cupar: {record['fail']['cupar']}")
        return
    fn, keywords = case.program, {}
    if case.out_arg:
        args, keywords = args[:-1], {"out": args[-1]}
    impls["cupar"] = lambda: fn(*args, target_place=GPU, **keywords)
    if case.name in FASTMATH_CASES:  # compute-bound: what fused multiply-adds are worth
        impls["cupar_fastmath"] = lambda: fn(*args, target_place=cupar.places.gpu0_fastmath,
                                             **keywords)


def implementations(case: Case, cupy: Cupy, record: dict) -> dict:
    """label -> zero-argument callable, each on its own device copy of the inputs."""
    cuda_args, cuda_fn = on_device(case.args, cuda.to_device), CUDA.get(case.name)
    impls = {"cuda": lambda: cuda_fn(*cuda_args)} if cuda_fn else {}  # (none for matmul yet)
    if cupy.module is not None:
        impls["cupy"] = cupy_impl(case, cupy.module)
    if case.program is not None:
        add_cupar(case, impls, record)
    return impls


# -- measuring --------------------------------------------------------------------------------
def copy_bandwidth(n: int, repeat: int) -> dict:
    """Device to device copy of n float32 (cuMemcpyDtoD): 8n bytes read plus written."""
    source = cuda.to_device(np.random.default_rng(1).standard_normal(n, dtype=F32))
    target = cuda.device_array_like(source)
    copy = lambda: target.copy_to_device(source)  # noqa: E731
    copy()
    with OtherLoad() as load:
        runs = [timed(copy, sync) for _ in range(max(repeat, 3) * 3)]
    med = statistics.median(runs)
    return {"bytes": 8 * n, "median_s": med, "gb_s": 8 * n / med / 1e9, "runs_s": runs,
            "other_load": load.share}


def run_benchmark(name: str, n: int, repeat: int, copy_gbs: float, cupy: Cupy) -> dict:
    case = make_case(name, n)
    record = {"name": name, "what": case.what, "bytes": case.bytes, "fail": {},
              "skipped": cupy.skipped(), "notes": list(case.notes)}
    impls = implementations(case, cupy, record)
    ms = check_and_time(record, impls, case.gpu_check or case.check, repeat, sync, to_host)
    if "cupar" in ms:
        if "cuda" in ms:
            record["cupar_over_cuda"] = ms["cupar"] / ms["cuda"]
        if "cupy" in ms:
            record["cupy_over_cupar"] = ms["cupy"] / ms["cupar"]
    if case.bytes:
        record["gb_s"] = {k: case.bytes / (v / 1e3) / 1e9 for k, v in ms.items()}
        record["copy_fraction"] = {k: v / copy_gbs for k, v in record["gb_s"].items()}
    print(f"  {name}: " + "  ".join(f"{k} {v:.3f} ms" for k, v in ms.items()))
    return record


def call_overhead(cupy: Cupy) -> dict:
    """Median microseconds of one synchronised call of a 1,000-element axpy whose inputs are
    already on the device: what a small kernel costs beyond its work. The implementations
    take turns call by call, as in the rows."""
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, OVERHEAD_N), dtype=F32)
    a = F32(1.5)
    case = Case("saxpy", f"axpy of {OVERHEAD_N} float32", (a, x, y),
                lambda xp, a, x, y: a * x + y, saxpy_check(a, x, y), P.saxpy)
    record = {"name": "overhead", "what": case.what, "fail": {}, "skipped": cupy.skipped(),
              "notes": [], "calls": OVERHEAD_CALLS}
    impls = implementations(case, cupy, record)
    ms = check_and_time(record, impls, case.check, OVERHEAD_CALLS, sync, to_host)
    record["us"] = {k: v * 1e3 for k, v in ms.items()}
    print("  overhead: " + "  ".join(f"{k} {v:.1f} us" for k, v in record["us"].items()))
    return record


def device_meta() -> dict:
    if G.SIMULATED:
        name = "Numba's CUDA simulator"
    else:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    try:
        numba_cuda = metadata.version("numba-cuda")
    except metadata.PackageNotFoundError:
        numba_cuda = "built into numba"
    return {"device": name, "simulated": G.SIMULATED, "numba_cuda": numba_cuda,
            "block": G.BLOCK, "cupar_gpu": None if cupar_ready() else cupar_missing()}


def run_all(names: list, n: int, repeat: int, meta: dict) -> dict:
    """Every requested GPU row, the copy bandwidth before and after (the fractions use the
    higher), and the per-call overhead."""
    cupy = load_cupy()
    meta.update(device_meta(), cupy=getattr(cupy.module, "__version__", None),
                cupy_missing=cupy.missing)
    print(f"cupar GPU benchmarks on {meta['device']}: N = {n}, repeat = {repeat}")
    print("memory bandwidth (device to device copy) ...")
    bw = copy_bandwidth(n, repeat)
    print(f"  copy: {bw['gb_s']:.1f} GB/s ({bw['median_s'] * 1e3:.3f} ms)")
    results = {"meta": meta, "copy": bw, "rows": {}}
    benches = [b for b in names if b in ORDER]
    for k, name in enumerate(benches, 1):
        print(f"[{k}/{len(benches)}] {name} ...", flush=True)
        results["rows"][name] = run_benchmark(name, n, repeat, bw["gb_s"], cupy)
    bw["end"] = copy_bandwidth(n, repeat)
    print(f"  copy again: {bw['end']['gb_s']:.1f} GB/s")
    if bw["end"]["gb_s"] > bw["gb_s"]:
        for key in ("median_s", "gb_s"):
            bw["start_" + key], bw[key] = bw[key], bw["end"][key]
        for r in results["rows"].values():
            if "gb_s" in r:
                r["copy_fraction"] = {k: v / bw["gb_s"] for k, v in r["gb_s"].items()}
    if "overhead" in names:
        print(f"per-call overhead: axpy of {OVERHEAD_N} elements, {OVERHEAD_CALLS} calls ...")
        results["overhead"] = call_overhead(cupy)
    return results
