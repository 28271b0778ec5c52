"""Helpers the generated Numba code calls.

`sort_numbers(xs, descending)` is `sort(cmp_lt, xs)` / `sort(cmp_gt, xs)` on numbers: NumPy's
sort of parts of the array on every thread, stable where that shows, NaN last ascending and
first descending (sort.py; called in object mode).

`advise_huge(a)` asks Linux to back a large fresh array with transparent huge pages, as
NumPy's own allocator does: first touching 64 MiB in 4 KiB pages costs about 20 ms on the
development machine, in 2 MiB pages about 2 ms. A no-op elsewhere. (Compiled; it names
`madvise` as an external symbol, so functions calling it can still be cached.)

`fold_add(a, b)`, `fold_mul(a, b)`: a + b and a * b of two floats of one type, which LLVM may
reassociate. Reductions combine with them (the language lets a reduction reassociate), so a
float sum loop vectorises, with several partial sums, as under fast-math; nothing else in the
kernel is reassociated, and NaN, infinities and signed zeros keep their meaning.

`cupar_reshaped(a, rows, columns)`: the 2-D array a's elements, in row-major order, as rows x
columns (their count a's size): a view where a is contiguous (a copy where not). The
materialised `split(join(a), k)` of a stored matrix a, an im2col's patches as the product
reads them: copying them had been 5% of a small CNN's training step.

`atomic_add(a, index, v)`, `atomic_max`, `atomic_min`: a[index] combined with v by one atomic
read-modify-write instruction (LLVM's `atomicrmw`, monotonic: only the element's own updates
are ordered); `index` is an integer or a tuple of them, already in range. Adds take integers
and floats; max and min integers only (LLVM's float max ignores NaN, NumPy's keeps it).
"""

from __future__ import annotations

import sys

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

HUGE_FROM = 1 << 22  # bytes; smaller arrays are not worth a system call
PAGE = 4096
MADV_HUGEPAGE = 14  # Linux

if sys.platform.startswith("linux"):
    _madvise = types.ExternalFunction("madvise", types.intc(types.uintp, types.uintp, types.intc))

    @numba.njit(cache=True, nogil=True)
    def advise_huge(a):
        if a.nbytes >= HUGE_FROM:  # the advice covers the whole pages inside the array
            page, start = np.uint64(PAGE), np.uint64(a.ctypes.data)
            first = (start + page - np.uint64(1)) // page * page
            end = (start + np.uint64(a.nbytes)) // page * page
            _madvise(first, end - first, MADV_HUGEPAGE)
else:
    @numba.njit(cache=True, nogil=True)
    def advise_huge(a):
        pass


@numba.njit(cache=True, nogil=True)
def cupar_reshaped(a, rows, columns):
    return np.ascontiguousarray(a).reshape((rows, columns))


def sort_numbers(xs: np.ndarray, descending: bool) -> np.ndarray:
    from .sort import sort_numbers as sort  # only programs that sort pay for its import
    return sort(xs, descending)


def _atomic(kind: str):
    """An intrinsic doing `atomicrmw <op>` on an array element (see the module docstring)."""
    @intrinsic
    def rmw(typingctx, array, index, value):
        dtype = array.dtype
        if kind != "add" and not isinstance(dtype, types.Integer):
            return None
        if not isinstance(dtype, (types.Integer, types.Float)):
            return None

        def codegen(context, builder, sig, args):
            array_type, index_type = sig.args[0], sig.args[1]
            arr, at, v = args
            indices = (cgutils.unpack_tuple(builder, at) if isinstance(index_type, types.BaseTuple)
                       else [at])
            kinds = index_type.types if isinstance(index_type, types.BaseTuple) else [index_type]
            indices = [context.cast(builder, i, t, types.intp) for i, t in zip(indices, kinds)]
            ptr = cgutils.get_item_pointer(context, builder, array_type,
                                           context.make_array(array_type)(context, builder, arr),
                                           indices, wraparound=False)
            v = context.cast(builder, v, sig.args[2], dtype)
            builder.atomic_rmw(_op(kind, dtype), ptr, v, "monotonic")
            return context.get_dummy_value()
        return types.none(array, index, value), codegen
    return rmw


def _op(kind: str, dtype) -> str:
    if kind == "add":
        return "fadd" if isinstance(dtype, types.Float) else "add"
    return ("" if dtype.signed else "u") + kind


atomic_add, atomic_max, atomic_min = _atomic("add"), _atomic("max"), _atomic("min")


def _reassociable(op: str):
    """An intrinsic doing one float `fadd` or `fmul` that LLVM may reassociate (the
    instruction's `reassoc` flag, and no other fast-math flag)."""
    @intrinsic
    def combine(typingctx, a, b):
        if not (isinstance(a, types.Float) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1], flags=("reassoc",))
        return a(a, b), codegen
    return combine


fold_add, fold_mul = _reassociable("fadd"), _reassociable("fmul")
