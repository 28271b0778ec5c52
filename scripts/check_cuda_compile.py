"""Compile every CUDA kernel cupar generates for its tests to PTX, without a GPU.

Numba's CUDA simulator runs Python, so it cannot tell whether numba-cuda would compile a
generated kernel. This script closes that gap in two steps:

    # 1. record the kernels the simulator launched and their argument types
    NUMBA_ENABLE_CUDASIM=1 python scripts/check_cuda_compile.py record /tmp/kernels.json
    # 2. compile each one to PTX with numba-cuda and its NVVM (no GPU needed:
    #    pip install 'numba-cuda[cu13]'; Numba's own deprecated CUDA target is refused)
    python scripts/check_cuda_compile.py compile /tmp/kernels.json

Step 1 runs the differential tests, the gpu0 tests, the golden programs and the examples
at gpu0.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def describe(arg):
    if isinstance(arg, (bool, np.bool_)):
        return ["scalar", "bool"]
    if isinstance(arg, np.generic):
        return ["scalar", arg.dtype.name]
    if hasattr(arg, "shape") and hasattr(arg, "dtype"):
        contiguous = getattr(arg, "flags", {"C_CONTIGUOUS": True})["C_CONTIGUOUS"]
        return ["array", np.dtype(arg.dtype).name, len(arg.shape), "C" if contiguous else "A"]
    return ["scalar", "int64" if isinstance(arg, int) else "float64"]


def record(out: str) -> None:
    from numba.cuda.simulator.kernel import FakeCUDAKernel
    seen: dict = {}
    call = FakeCUDAKernel.__call__

    def recording(self, *args):
        if not self._device:
            fn = self.fn
            key = f"{fn.__code__.co_filename}:{fn.__name__}:{[describe(a) for a in args]}"
            seen[key] = {"file": fn.__code__.co_filename, "kernel": fn.__name__,
                         "args": [describe(a) for a in args]}
        return call(self, *args)
    FakeCUDAKernel.__call__ = recording
    run_programs()
    Path(out).write_text(json.dumps(list(seen.values()), indent=1))
    print(f"recorded {len(seen)} kernel signatures")


def run_programs() -> None:
    """The differential tests at gpu0 (few hypothesis examples), then every example."""
    import pytest
    os.environ.update(CUPAR_COMPILED_PLACE="gpu0", CUPAR_EXAMPLES_SCALE="0.3")
    pytest.main(["-q", "-p", "no:cacheprovider", str(ROOT / "tests/test_compiled_prims.py"),
                 str(ROOT / "tests/test_compiled_differential.py"),
                 str(ROOT / "tests/test_gpu.py"),  # (its long rows take a block each)
                 str(ROOT / "tests/test_cuda_primitives.py"),  # (scans; a warp per row)
                 str(ROOT / "tests/test_reduce_by_index.py")])
    import cupar
    from golden_programs import PROGRAMS
    from test_examples import MAIN_FUNCTIONS, load
    gpu = cupar.places.gpu0
    calls = [(fn, args) for fn, args in PROGRAMS.values()]
    calls += [(getattr(load(name), f), make()) for name, (f, make) in MAIN_FUNCTIONS.items()]
    for fn, args in calls:
        try:
            fn(*args, target_place=gpu)
        except cupar.errors.CuparError as err:  # an expected error is fine
            print(f"{fn.name}: {type(err).__name__}")


def compile_all(path: str) -> int:
    from numba import cuda, types
    require_numba_cuda(cuda)
    pretend_a_device(cuda)
    failures = 0
    entries = json.loads(Path(path).read_text())
    for entry in entries:
        module = load(entry["file"])
        kernel = getattr(module, entry["kernel"])
        sig = tuple(numba_type(a, types) for a in entry["args"])
        try:
            cuda.compile_ptx(getattr(kernel, "py_func", kernel), sig, cc=(9, 0))  # (or plain)
        except Exception as exc:  # report every failure, then fail
            failures += 1
            print(f"FAIL {entry['kernel']} ({entry['file']}): {type(exc).__name__}: "
                  f"{str(exc)[:1500]}")
    print(f"{len(entries) - failures} of {len(entries)} kernels compile to PTX")
    return 1 if failures else 0


def require_numba_cuda(cuda) -> None:
    """Numba's own CUDA target is deprecated and lags Numba's typing: it cannot compile the
    varargs builtins (`min(a, b)` fails with "2 argument types given, but function takes 1").
    Only numba-cuda, which gpu0 runs on, gives an answer worth having."""
    if "numba_cuda" not in Path(cuda.__file__).parts:
        sys.exit("compile needs numba-cuda, the CUDA target gpu0 uses (pip install "
                 f"'numba-cuda[cu13]'); numba.cuda here is Numba's own: {cuda.__file__}")


def pretend_a_device(cuda) -> None:
    """numba-cuda compiles a device function called from a kernel for the current device's
    compute capability, which needs a driver; without one, answer for the kernels' (9.0)."""
    from numba.cuda import dispatcher

    class Device:
        compute_capability = (9, 0)
    if not cuda.is_available() and hasattr(dispatcher, "get_current_device"):
        dispatcher.get_current_device = Device


def numba_type(arg, types):
    from numba import from_dtype
    if arg[0] == "array":
        return types.Array(from_dtype(np.dtype(arg[1])), arg[2], arg[3])
    return types.boolean if arg[1] == "bool" else from_dtype(np.dtype(arg[1]))


def load(file: str):
    path = Path(file).resolve()
    if path.is_relative_to(ROOT / "cupar"):  # cupar's own kernels (relative imports)
        return importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    name = "checked_" + Path(file).stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("record", "compile"))
    parser.add_argument("file")
    args = parser.parse_args()
    if args.step == "record":
        if not os.environ.get("NUMBA_ENABLE_CUDASIM"):
            sys.exit("record runs under the simulator: set NUMBA_ENABLE_CUDASIM=1")
        record(args.file)
        return 0
    return compile_all(args.file)


if __name__ == "__main__":
    sys.exit(main())
