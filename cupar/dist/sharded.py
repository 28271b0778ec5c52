"""Reductions and scans over a sequence sharded across ranks, each rank holding one
contiguous piece (rank 0 the first). Each is the local cupar kernel on the piece, then one
collective: `Allreduce` for a reduce, `Exscan` of the pieces' totals plus a local fix-up map
for a scan. The result equals the single-process one: exactly for integers, to rounding for
floats (a reduction may reassociate, as everywhere in cupar).

Operators MPI knows (op_add, op_mul, maximum, minimum, op_and, op_or, op_xor) use MPI's own;
any other associative `@parallel` binary function works too, its partial results gathered
and combined in rank order on every rank.
"""

from __future__ import annotations

import functools

import numpy as np

from ..dsl import operators, prelude
from ..dsl.decorator import ParallelFunction, caller_loc, parallel
from ..errors import CuparTypeError, CuparValueError
from .processes import world

MPI_OPS = {"op_add": "sum", "op_mul": "prod", "maximum": "max", "minimum": "min",
           "op_and": "band", "op_or": "bor", "op_xor": "bxor"}


def shard_bounds(length: int, rank: int | None = None, size: int | None = None) -> tuple:
    """(start, stop) of `rank`'s contiguous piece of `length` elements split over `size`
    ranks: the first length % size ranks hold one element more."""
    w = world()
    rank = w.rank if rank is None else rank
    size = w.size if size is None else size
    base, extra = divmod(length, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def shard(array):
    """This rank's contiguous piece of `array` (a view, along the first axis)."""
    start, stop = shard_bounds(len(array))
    return array[start:stop]


@functools.lru_cache(maxsize=None)
def kernels(op):
    """The local cupar programs for `op`: a reduce, an inclusive scan, and the fix-up that
    combines a prefix with every element."""
    @parallel
    def local_reduce(xs, init):
        return prelude.reduce(op, xs, init)

    @parallel
    def local_scan(xs):
        return prelude.scan(op, xs)

    @parallel
    def fix_up(prefix, xs):
        return prelude.map(lambda v: op(prefix, v), xs)

    return local_reduce, local_scan, fix_up


def reduce(op, piece, init):
    """reduce(op, whole sequence, init) on every rank, from each rank's `piece`."""
    where = caller_loc()
    piece, mpi = check(op, piece, "reduce", where)
    local_reduce = kernels(op)[0]
    w = world()
    init = piece.dtype.type(init)
    if mpi is not None:
        start = init if w.rank == 0 else identity(mpi, piece.dtype)
        partial = np.array([local_reduce(piece, start)], piece.dtype)
        w.allreduce_into(partial, mpi)
        return partial[0]
    mine = local_reduce(piece[1:], piece[0]) if len(piece) else None
    partials = [p for p in w.allgather(mine) if p is not None]
    return functools.reduce(op, partials, init)


def scan(op, piece):
    """This rank's piece of scan(op, whole sequence) (inclusive), from its `piece`."""
    where = caller_loc()
    piece, mpi = check(op, piece, "scan", where)
    _, local_scan, fix_up = kernels(op)
    w = world()
    local = local_scan(piece) if len(piece) else piece.copy()
    if w.size == 1:
        return local
    if mpi is not None and mpi in ("sum", "prod", "max", "min"):
        total = np.array([local[-1] if len(local) else identity(mpi, piece.dtype)],
                         piece.dtype)
        prefix = w.exscan(total, mpi)
        prefix = None if prefix is None else prefix[0]
    else:
        totals = w.allgather(local[-1] if len(local) else None)[:w.rank]
        present = [t for t in totals if t is not None]
        prefix = functools.reduce(op, present) if present else None
    if prefix is None or not len(local):
        return local
    return fix_up(piece.dtype.type(prefix), local)


def check(op, piece, what: str, where):
    name = getattr(op, "__name__", "")
    if not (isinstance(op, ParallelFunction) or getattr(operators, name, None) is op):
        raise CuparTypeError(f"dist.{what} takes a cupar operator or @parallel function, "
                             f"not {op!r}", where, "e.g. op_add, maximum, or a @parallel "
                             "function of two arguments")
    if hasattr(piece, "copy_to_host"):
        piece = piece.copy_to_host()
    piece = np.ascontiguousarray(piece)
    if piece.ndim != 1 or piece.dtype.kind not in "biuf":
        raise CuparTypeError(f"dist.{what} takes a 1-D numeric piece, not a {piece.ndim}-D "
                             f"{piece.dtype} array", where, "pass this rank's piece of a "
                             "sequence of numbers")
    w = world()
    if w.size > 1:
        w.agree(f"dist.{what}", (str(piece.dtype), name), where)
    mpi = MPI_OPS.get(name) if getattr(operators, name, None) is op else None
    if mpi in ("band", "bor", "bxor") and piece.dtype.kind == "f":
        raise CuparValueError(f"dist.{what} with {name} on floats", where,
                              "bitwise operators take integers")
    return piece, mpi


def identity(mpi: str, dtype) -> object:
    dtype = np.dtype(dtype)
    if mpi == "sum" or mpi in ("bor", "bxor"):
        return dtype.type(0)
    if mpi == "prod":
        return dtype.type(1)
    if mpi == "band":
        return dtype.type(-1) if dtype.kind == "i" else np.iinfo(dtype).max
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    low, high = (-np.inf, np.inf) if dtype.kind == "f" else (info.min, info.max)
    return dtype.type(low if mpi == "max" else high)

