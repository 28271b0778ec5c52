"""The kernel cache on disk, common to both back ends: where it lives, and writing and
loading its modules so that a damaged entry is discarded, never trusted."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
import warnings
from pathlib import Path

try:
    import fcntl  # (POSIX; elsewhere processes compile the same kernel side by side)
except ImportError:
    fcntl = None

import numba

VERSION = "0.1.0"


def cache_dir() -> Path:
    """CUPAR_CACHE_DIR, else the per-user cache directory (XDG), created private (0700)."""
    root = os.environ.get("CUPAR_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(base, "cupar")
    path = Path(root) / f"numba-{numba.__version__}"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


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
                  stacklevel=5)
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


@contextlib.contextmanager
def compiling(path: Path):
    """Held while this process compiles the kernel module at `path` (or loads its machine
    code): a second process that needs the same module (another MPI rank, a test worker)
    waits here, then loads what the first wrote to Numba's cache instead of compiling it
    again beside it. An advisory lock on a file next to the module, released if the
    process dies."""
    if fcntl is None:
        yield
        return
    try:
        handle = open(path.with_suffix(".lock"), "a")
    except OSError:  # (a read-only cache: nothing to share)
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:  # (a file system without locks, e.g. some NFS: compile unshared;
            pass  # an OSError here must not read as a damaged cache entry to discard)
        yield  # (closing the file releases the lock)
