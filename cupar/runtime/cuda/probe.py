"""Whether gpu0 can run code: a probe kernel compiled, launched and checked, once a process.

`cuda.is_available()` only says that a driver and a device answer. It said True on a
machine where numba-cuda 0.30.4 could not compile anything under NumPy 2.5 (`module
'numpy' has no attribute 'row_stack'`), and every gpu0 call then failed deep inside
numba-cuda. The probe runs the whole path a cupar call takes (compile, copy to the device,
launch, copy back) on a tiny kernel, so `gpu0.available` means that code runs, and
`gpu0.missing()` says what failed, with the versions involved and what to do.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata

import numpy as np

try:  # (places imports this module only when gpu0's availability is asked)
    from numba import cuda
    IMPORT_ERROR = None
except Exception as exc:  # a broken CUDA install reports itself many ways
    cuda, IMPORT_ERROR = None, exc
PROBE_LENGTH = 100  # elements: more than one warp, fewer than one block
# Combinations that are known not to work, each with the symptom and the remedy.
KNOWN_BAD = [("row_stack", "numba-cuda 0.30 needs NumPy older than 2.5: "
              "pip install 'numpy<2.5' (or pip install 'cupar[cuda]', which pins it)")]


def missing() -> str | None:
    """None when a probe kernel compiled and ran correctly on the GPU (or under Numba's
    CUDA simulator), else what is missing or broken."""
    if importlib.util.find_spec("numba.cuda") is None:
        return "numba-cuda is not installed (pip install 'cupar[cuda]')"
    if IMPORT_ERROR is not None:
        return (f"numba.cuda could not be imported ({type(IMPORT_ERROR).__name__}: "
                f"{IMPORT_ERROR}); {versions()}")
    return probe(cuda)


def probe(api) -> str | None:
    """The probe itself, through `api` (numba.cuda, or a stand-in in tests)."""
    try:
        if not api.is_available():
            return "no CUDA driver or GPU was found on this machine"
    except Exception as exc:
        return f"CUDA could not be initialised ({type(exc).__name__}: {exc}); {versions()}"
    step = "compile"
    try:
        kernel = api.jit("void(int64[::1])")(twice_the_index)  # compiled here, eagerly
        step = "run"
        data = api.to_device(np.zeros(PROBE_LENGTH, np.int64))
        kernel[1, 128](data)
        got = data.copy_to_host()
    except Exception as exc:
        return failure(f"a probe kernel failed to {step}", exc)
    if not np.array_equal(got, 2 * np.arange(PROBE_LENGTH)):
        return f"a probe kernel ran but computed wrong values; {versions()}"
    return None


def twice_the_index(out):
    """The probe kernel: out[i] = 2 i (`cuda` is this module's global, which the simulator
    swaps for its own while a kernel runs)."""
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = 2 * i


def failure(what: str, exc: Exception) -> str:
    text = f"{what} ({type(exc).__name__}: {str(exc)[:300]}); {versions()}"
    for symptom, remedy in KNOWN_BAD:
        if symptom in str(exc):
            return f"{text}; {remedy}"
    return text


def versions() -> str:
    """The versions a CUDA failure depends on, as one phrase."""
    found = []
    for package in ("numba-cuda", "numba", "numpy"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"no {package}")
    return ", ".join(found)
