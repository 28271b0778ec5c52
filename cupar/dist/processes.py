"""The process world: MPI's COMM_WORLD through mpi4py, or a one-process world without it.

mpi4py is imported on first use, never by `import cupar`. Without mpi4py, or under plain
`python`, the world has one process and every collective returns its input, so a script
runs unchanged under `python` and under `mpiexec -n N python`. Launched by mpiexec with
several processes but without mpi4py, the first use says so instead of silently training N
independent copies.

A rank that raises an uncaught exception prints it, prefixed with its rank, and aborts the
whole job (MPI_Abort): the other ranks would otherwise wait forever in their next collective.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback

import numpy as np

from ..errors import CuparValueError, PlaceUnavailableError
from ..runtime.cpu import pool

# Environment variables through which MPI launchers tell a process its world size.
LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS",
                           "PMIX_SIZE", "SLURM_NTASKS")

_world = None
_lock = threading.Lock()


def world() -> "World":
    """The world of this process, made on first use."""
    global _world
    if _world is None:
        with _lock:
            if _world is None:
                _world = make_world()
    return _world


def existing_world() -> "World | None":
    """The world if some code has used cupar.dist already, else None (imports nothing)."""
    return _world


def make_world() -> "World":
    try:
        from mpi4py import MPI
    except ImportError:
        launched = launcher_size()
        if launched > 1:
            raise PlaceUnavailableError(
                f"this process was started by an MPI launcher as one of {launched}, but "
                "mpi4py is not installed, so the processes cannot talk to each other", None,
                "pip install 'cupar[dist]' (mpi4py and mpich), or run with plain python"
            ) from None
        return World(None)
    comm = MPI.COMM_WORLD
    made = World(comm)
    if made.size > 1:
        install_abort_on_error(comm)
    return made


def launcher_size() -> int:
    for name in LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def install_abort_on_error(comm) -> None:
    """An uncaught exception on any rank ends the whole job with that rank's error shown."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        text = "".join(traceback.format_exception(kind, value, tb))
        prefix = f"[cupar.dist rank {comm.Get_rank()} of {comm.Get_size()}] "
        sys.stderr.write("".join(prefix + line + "\n" for line in text.splitlines()))
        sys.stderr.flush()
        if previous is not sys.__excepthook__:
            previous(kind, value, tb)
        # mpiexec forwards a rank's output through its process manager: aborting at once
        # can end the job before the message arrives (seen on a loaded machine)
        time.sleep(ABORT_GRACE_S)
        comm.Abort(1)

    sys.excepthook = hook


OPS = ("sum", "mean", "max", "min", "prod")
ABORT_GRACE_S = 0.5  # seconds between a rank's error message and MPI_Abort
POOLED_FROM = 1 << 18  # bytes: larger results come from cupar's pool (see runtime/pool.py)


class World:
    """The processes of one job. `comm` is an mpi4py communicator, or None for one process."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.size = comm.Get_size() if comm is not None else 1
        self.ops, self.codes = {}, {}
        if comm is not None:
            from mpi4py import MPI
            self.ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN,
                        "prod": MPI.PROD, "band": MPI.BAND, "bor": MPI.BOR,
                        "bxor": MPI.BXOR}
        self.max_op = self.ops.get("max")

    def mpi_op(self, op: str):
        return self.ops[op]

    def allreduce(self, array: np.ndarray, op: str, out: np.ndarray | None = None):
        """The reduction of a contiguous host array over all ranks, into `out` (which may
        be `array`) or a new array."""
        if out is None:
            out = np.empty(array.shape, array.dtype) if array.nbytes < POOLED_FROM else \
                pool.empty(array.shape, array.dtype, pooled_from=POOLED_FROM)
        if self.size == 1:
            if out is not array:
                out[...] = array
        elif out is array:
            from mpi4py import MPI
            self.comm.Allreduce(MPI.IN_PLACE, out, op=self.ops[op])
        else:
            self.comm.Allreduce(array, out, op=self.ops[op])
        if op == "mean":
            np.divide(out, self.size, out=out, casting="unsafe")
        return out

    def allreduce_into(self, buffer: np.ndarray, op: str) -> None:
        """Reduce a contiguous host array in place across all ranks (no checks)."""
        if self.size > 1:
            from mpi4py import MPI
            self.comm.Allreduce(MPI.IN_PLACE, buffer, op=self.mpi_op(op))
        if op == "mean":
            np.divide(buffer, self.size, out=buffer, casting="unsafe")

    def allgather(self, obj) -> list:
        """Every rank's (picklable) `obj`, in rank order."""
        return self.comm.allgather(obj) if self.size > 1 else [obj]

    def bcast(self, obj, root: int = 0):
        return self.comm.bcast(obj, root=root) if self.size > 1 else obj

    def broadcast_into(self, buffer: np.ndarray, root: int = 0) -> None:
        if self.size > 1:
            self.comm.Bcast(buffer, root=root)

    def barrier(self) -> None:
        if self.size > 1:
            self.comm.Barrier()

    def exscan(self, value: np.ndarray, op: str) -> np.ndarray | None:
        """The reduction of the values of ranks below this one (None on rank 0)."""
        if self.size == 1:
            return None
        out = np.empty_like(value)
        self.comm.Exscan(value, out, op=self.mpi_op(op))
        return out if self.rank > 0 else None

    def agree_quickly(self, what: str, signature, where) -> None:
        """`agree` at the price of one collective of two integers (a hash of the signature
        and its negation, reduced with MAX: every rank passed the same one when the result
        is the pair itself); the full exchange runs only to describe a mismatch. `where` is
        a function giving the error's location, called only on error. The buffers are kept
        per signature: in a loop of small allreduces, Python's share is the cost."""
        entry = self.codes.get(signature)
        if entry is None:
            code = hash_signature(signature)
            entry = self.codes[signature] = (np.array([code, -code], np.int64),
                                             np.empty(2, np.int64), code)
        values, out, code = entry
        self.comm.Allreduce(values, out, op=self.max_op)
        if out[0] != code or out[1] != -code:
            self.agree(what, signature, where())

    def agree(self, what: str, signature, where) -> None:
        """Fail on every rank, naming the ranks that differ, unless all ranks pass the same
        `signature` (shapes, dtypes, op): mismatched collectives hang or return garbage."""
        signatures = self.allgather(signature)
        odd = [r for r, s in enumerate(signatures) if s != signatures[0]]
        if odd:
            described = "; ".join(f"rank {r}: {describe(s)}" for r, s in enumerate(signatures)
                                  if r in odd or r == 0)
            raise CuparValueError(f"{what}: the ranks disagree ({described})", where,
                                  "every rank must pass arrays of the same shape and dtype "
                                  "(and the same operation)")


def hash_signature(signature) -> int:
    import hashlib
    digest = hashlib.blake2b(repr(signature).encode(), digest_size=7).digest()
    return int.from_bytes(digest, "little")


def describe(signature) -> str:
    return ", ".join(str(part) for part in signature) if isinstance(signature, tuple) \
        else str(signature)
