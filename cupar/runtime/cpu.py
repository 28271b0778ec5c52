"""The cpu place's engine: lower, generate Numba source, compile, cache, call.

Caches: in memory by the final Program's identity (one per function and argument types);
on disk, the generated module is written under the cache directory with a name that hashes
its source (which is a function of the IR of everything the call reaches and the argument
types), the cupar version and the Numba version; Numba's own `cache=True` keeps the machine
code beside it, so a second process starts warm. Lengths are run-time values: a new length
never recompiles.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
import threading
import warnings
from pathlib import Path

import numba
import numpy as np
from numba.core.errors import NumbaWarning

from ..compiler.kernel_ir import KernelProgram
from ..compiler.lower import NotLowered, lower_to_kernels
from ..compiler.types import Scalar, Seq, Tuple
from ..errors import CuparIndexError, CuparValueError
from .numba_cpu import generate_source

VERSION = "0.1.0"
_lock = threading.Lock()


def cache_dir() -> Path:
    """CUPAR_CACHE_DIR, else the per-user cache directory (XDG), created private (0700)."""
    root = os.environ.get("CUPAR_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "cupar")
    path = Path(root) / f"numba-{numba.__version__}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class Compiled:
    """A compiled entry function and what is needed to call it and read its errors."""

    def __init__(self, kernels: KernelProgram, source: str, module_path: Path):
        self.kernels, self.source, self.path = kernels, source, module_path
        try:
            module = load_module(module_path)
        except (EOFError, ValueError, ImportError, SyntaxError):  # a damaged .pyc
            discard_compiled(module_path)
            module = load_module(module_path, fresh=True)
        self.entry = getattr(module, kernels.entry.name)
        self.warm = False

    def __call__(self, args: tuple):
        flat = []
        for a in args:
            flatten_arg(a, flat)
        try:
            if not self.warm:
                parts = self.first_call(flat)
            else:
                parts = self.entry(*flat)
        except (ValueError, IndexError) as exc:
            raise self.located(exc) from None
        return rebuild(iter(parts), self.kernels.result_type)

    def first_call(self, flat: list):
        """The first call loads Numba's cached machine code or compiles; a damaged Numba
        cache entry is discarded with a warning and the kernels are compiled afresh."""
        with warnings.catch_warnings():  # Numba's advice on our generated code
            warnings.simplefilter("ignore", NumbaWarning)
            try:
                parts = self.entry(*flat)
            except (EOFError, OSError, pickle.UnpicklingError, AttributeError, ImportError):
                discard_compiled(self.path)
                module = load_module(self.path, fresh=True)
                self.entry = getattr(module, self.kernels.entry.name)
                parts = self.entry(*flat)
        self.warm = True
        return parts

    def located(self, exc: Exception) -> Exception:
        text = str(exc.args[0]) if exc.args else ""
        if not text.startswith("cupar:"):
            return exc
        kind, message, hint, loc = self.kernels.errors[int(text.split(":")[1])]
        return (CuparIndexError if kind == "index" else CuparValueError)(message, loc, hint)


def compile_kernels(program) -> Compiled | str:
    """The compiled program, or the reason it cannot be compiled yet (a NotLowered text)."""
    try:
        kernels = lower_to_kernels(program)
    except NotLowered as exc:
        return str(exc)
    source = generate_source(kernels)
    digest = hashlib.sha256(f"{VERSION}\n{source}".encode()).hexdigest()[:24]
    path = cache_dir() / f"k{digest}.py"
    with _lock:
        if not intact(path, source):
            write_entry(path, source)
        return Compiled(kernels, source, path)


def intact(path: Path, source: str) -> bool:
    """Whether the cache entry at `path` holds exactly `source`; a damaged one is discarded
    with a warning (with Numba's compiled code for it), never trusted."""
    if not path.exists():
        return False
    try:
        if path.read_text() == source:
            return True
    except (OSError, UnicodeDecodeError):
        pass
    warnings.warn(f"cupar: discarding a damaged kernel cache entry {path}", RuntimeWarning,
                  stacklevel=4)
    for stale in (path.parent / "__pycache__").glob(f"{path.stem}.*"):
        stale.unlink(missing_ok=True)
    return False


def write_entry(path: Path, source: str) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(source)
    os.replace(tmp, path)  # atomic: readers never see half a file


def discard_compiled(path: Path) -> None:
    """Delete Python's and Numba's compiled files for the module at `path`, with a warning."""
    warnings.warn(f"cupar: discarding damaged compiled code for {path.name}", RuntimeWarning,
                  stacklevel=6)
    for stale in (path.parent / "__pycache__").glob(f"{path.stem}.*"):
        stale.unlink(missing_ok=True)


def load_module(path: Path, fresh: bool = False):
    name = f"cupar_kernels_{path.stem}"
    if name in sys.modules and not fresh:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def host_array(value):
    """An argument's array part as the cpu code takes it, or None when it is no array."""
    return np.ascontiguousarray(value) if isinstance(value, np.ndarray) else None


def flatten_arg(value, out: list, array=host_array) -> None:
    """The scalar and array parts of an argument, in order; `array` converts array parts."""
    if isinstance(value, tuple):
        for v in value:
            flatten_arg(v, out, array)
    elif hasattr(value, "columns"):  # a TupleSeq
        for c in value.columns:
            flatten_arg(c, out, array)
    else:
        converted = array(value)
        out.append(value if converted is None else converted)


def rebuild(parts, t, wrap=lambda a: a):
    """A flat result back into cupar's representation of type `t` (`wrap`: for arrays)."""
    from ..dsl.values import TupleSeq, coerce
    if isinstance(t, Tuple):
        return tuple(rebuild(parts, e, wrap) for e in t.elems)
    if isinstance(t, Seq) and isinstance(t.elem, Tuple):
        return TupleSeq(rebuild(parts, Seq(e, t.length), wrap) for e in t.elem.elems)
    if isinstance(t, Scalar):
        return coerce(next(parts), t)
    return wrap(next(parts))
