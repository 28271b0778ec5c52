"""cupar programs over Dask arrays, chunk by chunk, for data beyond memory or spread over a
Dask cluster. Each chunk runs through the compiled cupar program; Dask schedules the chunks
(threaded scheduler, or a `distributed` cluster) and combines their results.

    import dask.array as da
    from cupar.dist import chunked

    x = da.from_zarr(...)                           # or da.random..., any 1-D dask array
    y = chunked.map_blocks(axpy, np.float32(2), x, x)         # lazy, one task per chunk
    total = chunked.reduce(op_add, x, 0.0, f=square)          # reduce(op_add, map(square, x))
    prefix = chunked.scan(op_add, x)                          # the inclusive scan, lazy
    total.compute(), prefix.compute()

`map_blocks` takes an elementwise `@parallel` function: element i of its result may depend
only on element i of its sequence arguments (scalars are passed to every chunk); `reduce`
and `scan` take a cupar operator or an associative `@parallel` function of two arguments.
Needs the `dask` extra (`pip install 'cupar[dask]'`).
"""

from __future__ import annotations

import functools

import numpy as np

from ..dsl import prelude
from ..dsl.decorator import ParallelFunction, caller_loc, parallel
from ..errors import CuparTypeError, PlaceUnavailableError
from .sharded import MPI_OPS, identity, kernels

SCAN_IDENTITIES = {"op_add": "sum", "op_mul": "prod", "maximum": "max", "minimum": "min"}


def dask_array():
    try:
        import dask.array as da
    except ImportError:
        raise PlaceUnavailableError("cupar.dist.chunked needs Dask, which is not installed",
                                    caller_loc(), "pip install 'cupar[dask]'") from None
    return da


def map_blocks(fn, *args, place=None):
    """fn(*args) computed chunk by chunk: a lazy dask array. The sequence arguments are 1-D
    dask arrays (NumPy arrays are chunked like the first dask one) of one length; other
    arguments are scalars, passed to every chunk."""
    where = caller_loc()
    da = dask_array()
    check_function(fn, "map_blocks", where)
    sequences = [k for k, a in enumerate(args) if isinstance(a, da.Array) or np.ndim(a) > 0]
    if not sequences:
        raise CuparTypeError("map_blocks needs at least one sequence argument", where,
                             "pass a dask array")
    shapes = {np.shape(args[k]) for k in sequences}
    if len(shapes) > 1 or any(len(shape) != 1 for shape in shapes):
        raise CuparTypeError(f"map_blocks takes 1-D sequences of one length, not shapes "
                             f"{sorted(shapes)}", where, "pass 1-D arrays of one length")
    first = next((args[k] for k in sequences if isinstance(args[k], da.Array)), None)
    chunks = first.chunks if first is not None else None
    arrays = [as_dask(args[k], chunks, da) for k in sequences]
    arrays = [a.rechunk(arrays[0].chunks) for a in arrays]
    scalars = {k: a for k, a in enumerate(args) if k not in sequences}

    def block(*pieces):
        full, it = [], iter(pieces)
        for k in range(len(args)):
            full.append(scalars[k] if k in scalars else next(it))
        return fn(*full, target_place=place)

    meta = block(*(np.empty(0, a.dtype) for a in arrays))
    if np.ndim(meta) != 1:
        raise CuparTypeError(f"map_blocks needs `{fn.__name__}` to return a sequence as long "
                             "as its arguments", where, "use chunked.reduce for a "
                             "function that returns a number")
    return da.map_blocks(block, *arrays, dtype=np.asarray(meta).dtype,
                         meta=np.empty(0, np.asarray(meta).dtype))


def reduce(op, x, init, f=None, place=None):
    """reduce(op, map(f, x), init) of a 1-D dask array (f: a `@parallel` function of one
    element, or None for the elements themselves), as a lazy 0-d dask array: cupar's
    reduction is the chunk step and the combine step."""
    where = caller_loc()
    da = dask_array()
    check_function(op, "reduce", where)
    if f is not None:
        check_function(f, "reduce", where)
    x = as_dask(x, None, da)
    chunk_reduce, combine = reduction_kernels(op, f)

    def chunk(block, axis=None, keepdims=False):
        if not len(block):
            return np.empty(0, partial_dtype)
        return np.asarray([chunk_reduce(block, target_place=place)])

    def merge(partials, axis=None, keepdims=False):
        if not len(partials):
            return np.empty(0, partials.dtype)
        return np.asarray([combine(partials[1:], partials[0], target_place=place)])

    def aggregate(partials, axis=None, keepdims=False):
        start = partials.dtype.type(init) if len(partials) else np.asarray(init)
        return np.asarray(combine(partials, start, target_place=place))

    partial_dtype = np.asarray(chunk_reduce(np.zeros(1, x.dtype), target_place=place)).dtype
    return da.reduction(x, chunk, aggregate, combine=merge, dtype=partial_dtype,
                        concatenate=True, meta=np.empty((), partial_dtype))


def scan(op, x, identity_value=None, place=None):
    """The inclusive scan(op, x) of a 1-D dask array, lazily: cupar's scan within each chunk,
    and the carry of the chunks before combined into it. `identity_value`: op's identity
    (known for op_add, op_mul, maximum and minimum)."""
    where = caller_loc()
    da = dask_array()
    check_function(op, "scan", where)
    x = as_dask(x, None, da)
    name = getattr(op, "__name__", "")
    if identity_value is None:
        known = SCAN_IDENTITIES.get(name) if MPI_OPS.get(name) else None
        if known is None:
            raise CuparTypeError(f"chunked.scan does not know the identity of `{name}`",
                                 where, "pass identity_value=... (e.g. 0 for a sum)")
        identity_value = identity(known, x.dtype)
    _, local_scan, fix_up = kernels(op)

    def chunk_scan(block, axis=0):
        return local_scan(block, target_place=place) if len(block) else block.copy()

    def carry(prefix, block):
        return fix_up(np.asarray(prefix).reshape(-1)[0], block, target_place=place)

    carry.__name__ = f"cupar_scan_{name}"
    return da.reductions.cumreduction(chunk_scan, carry, identity_value, x, axis=0,
                                      dtype=x.dtype)


@functools.lru_cache(maxsize=None)
def reduction_kernels(op, f):
    if f is None:
        @parallel
        def chunk_reduce(xs):
            return prelude.reduce(op, prelude.gather(xs, prelude.bounded_range(1, prelude.len(xs))),
                                  xs[0])
    else:
        @parallel
        def chunk_reduce(xs):
            ys = prelude.map(f, xs)
            return prelude.reduce(op, prelude.gather(ys, prelude.bounded_range(1, prelude.len(ys))),
                                  ys[0])

    @parallel
    def combine(partials, start):
        return prelude.reduce(op, partials, start)

    return chunk_reduce, combine


def check_function(fn, what: str, where) -> None:
    from ..dsl import operators
    if not (isinstance(fn, ParallelFunction) or
            getattr(operators, getattr(fn, "__name__", ""), None) is fn):
        raise CuparTypeError(f"chunked.{what} takes a cupar operator or @parallel function, "
                             f"not {fn!r}", where, "decorate it with @parallel")


def as_dask(value, chunks, da):
    if isinstance(value, da.Array):
        return value
    return da.from_array(np.asarray(value), chunks=chunks or "auto")
