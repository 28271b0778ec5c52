"""`cupar.dist`: many processes, through MPI (mpi4py), for data-parallel training and for
reductions and scans over sequences sharded across processes.

    import cupar.dist as dist           # imports nothing of MPI until first used

    dist.rank(), dist.size()            # 0 and 1 under plain `python`
    total = dist.allreduce(grads, op="sum")      # also "mean", "max", "min", "prod"
    params = dist.broadcast(params)              # rank 0's values on every rank
    piece = dist.shard(x)                        # this rank's contiguous piece of x
    dist.reduce(op_add, piece, 0)                # == reduce(op_add, x, 0), on every rank
    dist.scan(op_add, piece)                     # this rank's piece of scan(op_add, x)

Run the same script under `mpiexec -n 4 python script.py`. The MPI library comes from the
package index with the `dist` extra (`pip install 'cupar[dist]'`: mpi4py and mpich).
`cupar.dist.chunked` runs cupar programs over Dask arrays chunk by chunk.
"""

from __future__ import annotations

import numpy as np

from ..dsl.decorator import caller_loc
from ..errors import CuparTypeError, CuparValueError
from .sharded import reduce, scan, shard, shard_bounds  # noqa: F401
from .processes import OPS, World, existing_world, world

__all__ = ["rank", "size", "barrier", "broadcast", "allreduce", "allgather", "shard",
           "shard_bounds", "reduce", "scan", "same_on_all_ranks", "world", "World"]


def rank() -> int:
    """This process's number, 0 .. size() - 1."""
    return world().rank


def size() -> int:
    """The number of processes in the job (1 without MPI)."""
    return world().size


def barrier() -> None:
    """Wait until every rank has reached this call."""
    world().barrier()


def allgather(value) -> list:
    """Every rank's `value` (any picklable object), in rank order, on every rank."""
    return world().allgather(value)


def allreduce(array, op: str = "sum", check: bool = True, out=None) -> np.ndarray:
    """The elementwise reduction of every rank's `array` (a number or a NumPy array of the
    same shape and dtype on every rank), returned as a new array on every rank (or written
    into `out`, which may be `array` itself: large arrays are reduced faster into memory
    already touched). `op`: "sum", "mean" (the sum divided by size(); floats only), "max",
    "min", "prod". `check=False` skips comparing shapes and dtypes across ranks (one
    two-number collective) in hot loops whose arrays are known to agree; a mismatch then
    hangs or gives garbage, as in MPI."""
    if type(array) is np.ndarray and array.dtype.kind in "biufc" and op in FAST_OPS:
        host = array  # the common case, checked without reading the caller's location
    else:
        host = checked_for_allreduce(array, op, caller_loc())
    w = world()
    if check and w.size > 1:
        w.agree_quickly("allreduce", (host.shape, host.dtype, op), caller_loc)
    if out is not None:
        check_out(out, host, caller_loc)
    if host.ndim == 0:  # a number: a NumPy scalar back (ascontiguousarray makes it 1-D)
        return w.allreduce(host.reshape(1), op)[0]
    return w.allreduce(np.ascontiguousarray(host), op, out)


FAST_OPS = ("sum", "max", "min", "prod")


def check_out(out, host: np.ndarray, where) -> None:
    if not (isinstance(out, np.ndarray) and out.shape == host.shape and
            out.dtype == host.dtype and out.flags.c_contiguous and out.flags.writeable):
        raise CuparValueError(f"out= must be a writeable contiguous {host.dtype} array of "
                              f"shape {host.shape}", where(), "pass an array like the input "
                              "(or the input itself), or leave out= away")


def checked_for_allreduce(array, op: str, where) -> np.ndarray:
    if op not in OPS:
        raise CuparValueError(f"unknown reduction {op!r}", where, f"use one of {OPS}")
    host = as_host_array(array, "allreduce", where)
    if op == "mean" and host.dtype.kind not in "fc":
        raise CuparTypeError(f"allreduce(op='mean') of {host.dtype} values", where,
                             "convert to a float dtype first, or use op='sum'")
    return host


def broadcast(value, root: int = 0):
    """Rank `root`'s `value` on every rank: an array (same shape and dtype everywhere: the
    buffer is sent without pickling), a list or tuple of arrays, or a `cupar.nn` module,
    whose parameters and buffers are replaced by root's (as when training starts)."""
    where = caller_loc()
    w = world()
    if not 0 <= root < w.size:
        raise CuparValueError(f"root {root} is not a rank of this {w.size}-process job", where,
                              f"pass a root from 0 to {w.size - 1}")
    if hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
        state = value.state_dict()
        names = sorted(state)
        news = broadcast_arrays([state[k] for k in names], root, w, where)
        value.load_state_dict(dict(zip(names, news)))
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(broadcast_arrays(list(value), root, w, where))
    return broadcast_arrays([value], root, w, where)[0]


def broadcast_arrays(arrays: list, root: int, w: World, where) -> list:
    hosts = [as_host_array(a, "broadcast", where) for a in arrays]
    if w.size > 1:
        w.agree("broadcast", tuple((h.shape, str(h.dtype)) for h in hosts), where)
    outs = [np.array(h, order="C", copy=True).reshape(h.shape or (1,)) for h in hosts]
    for out in outs:
        w.broadcast_into(out, root)
    return [out if h.ndim else out[0] for out, h in zip(outs, hosts)]


def same_on_all_ranks(arrays) -> bool:
    """Whether every rank holds bit-identical `arrays` (compared by a hash of their bytes):
    data-parallel training keeps the parameters so, and a test or a long run can check."""
    import hashlib
    digest = hashlib.sha256()
    for a in arrays:
        host = np.ascontiguousarray(as_host_array(a, "same_on_all_ranks", None))
        digest.update(str((host.shape, host.dtype)).encode())
        digest.update(host.tobytes())
    digests = world().allgather(digest.hexdigest())
    return all(d == digests[0] for d in digests)


def as_host_array(value, what: str, where) -> np.ndarray:
    if hasattr(value, "copy_to_host"):
        value = value.copy_to_host()
    host = np.asarray(value)
    if host.dtype.kind not in "biufc":
        raise CuparTypeError(f"{what} takes numbers and numeric arrays, not {host.dtype} "
                             f"values", where, "pass NumPy arrays of numbers")
    return host
