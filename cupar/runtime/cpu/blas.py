"""Float matrix products through the BLAS that NumPy's wheels ship (scipy-openblas, 64-bit
integers), called from compiled code; cupar's own loops (matmul.py) where there is none.

Measured on the 2-core development machine (float32, one thread, benchmarks/matmul_sizes.py
shapes of a GRU's step at batch 100, hidden 64): 100x64 @ 64x192 21.4 us against the own
loops' 30.6; 100x192 @ 192x64 22.0 against 47.6; 64x100 @ 100x192 (a transposed) 21.6
against 24.2; a training step's 32x64 @ 64x128 5.4 against 7.1. The own loops keep the rest:
integer products, and arrays whose rows are not contiguous.

The library is found at import, in NumPy's bundled libraries, by its symbols; each symbol
is registered with LLVM under a name of cupar's (`cupar_sgemm`, ...), which the compiled
code calls as an external function, so the functions calling it can be cached on disk. When
there is no such library (a NumPy built against MKL or the system's BLAS), the names point
at stubs that are never called: `blas_ready()` (OpenBLAS's count of threads, at least 1;
its stub's 0), asked at run time (a cached constant would outlive the process that
compiled it), says which.

Each call runs the product on the calling thread only (`openblas_set_num_threads_local`,
restored after): the products are already cut into tiles over cupar's threads, and
OpenBLAS's own threads, started for a 100x64 @ 64x256 product, made it slower on this
machine (35 us against 28.5 on one). The exception: a large product computed where no
cupar thread runs (a small call's serial variant), on BLAS's threads (matmul.alone_threads).
"""

from __future__ import annotations

import ctypes
import glob
import os

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import types
from numba.extending import overload

ROW_MAJOR, PLAIN, TRANSPOSED = 101, 111, 112  # CBLAS's enumerations

_i32, _i64, _u64 = types.int32, types.int64, types.uint64


def _gemm_type(real):
    return types.void(_i32, _i32, _i32, _i64, _i64, _i64, real, _u64, _i64, _u64, _i64, real,
                      _u64, _i64)


_SIGNATURES = {"cupar_sgemm": _gemm_type(types.float32), "cupar_dgemm": _gemm_type(types.float64),
               "cupar_blas_threads": _i32(_i32), "cupar_blas_ready": _i32()}
_SYMBOLS = {"cupar_sgemm": "scipy_cblas_sgemm64_", "cupar_dgemm": "scipy_cblas_dgemm64_",
            "cupar_blas_threads": "openblas_set_num_threads_local",
            "cupar_blas_ready": "scipy_openblas_get_num_threads64_"}  # (ready: at least 1;
# not its count of processors: a sched_getaffinity system call at each product)


def _library():
    """NumPy's bundled scipy-openblas with every symbol cupar calls, or None."""
    base = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/libscipy_openblas64_*", "numpy/.dylibs/libscipy_openblas64_*"):
        for path in glob.glob(os.path.join(base, pattern)):
            try:
                lib = ctypes.CDLL(path)
                if all(hasattr(lib, s) for s in _SYMBOLS.values()):
                    return lib
            except OSError:
                continue
    return None


def _stub(name: str):
    """A C function of `name`'s signature that does nothing (never called: see above)."""
    sig = _SIGNATURES[name]
    params = ", ".join(f"a{k}" for k in range(len(sig.args)))
    result = "None" if sig.return_type == types.void else "np.int32(0)"
    scope = {"np": np}
    exec(f"def stub({params}):\n    return {result}\n", scope)  # (cfunc needs the arity)
    return numba.cfunc(sig)(scope["stub"])


def _register() -> bool:
    lib = None if os.environ.get("CUPAR_NO_BLAS") else _library()
    for name in _SYMBOLS:
        if lib is not None:
            address = ctypes.cast(getattr(lib, _SYMBOLS[name]), ctypes.c_void_p).value
        else:
            _STUBS[name] = _stub(name)
            address = _STUBS[name].address
        llvm.add_symbol(name, address)
    return lib is not None


_STUBS: dict = {}  # kept alive: LLVM holds only their addresses
AVAILABLE = _register()  # (for tests and reports; compiled code asks `blas_ready`)

_sgemm = types.ExternalFunction("cupar_sgemm", _SIGNATURES["cupar_sgemm"])
_dgemm = types.ExternalFunction("cupar_dgemm", _SIGNATURES["cupar_dgemm"])
_threads = types.ExternalFunction("cupar_blas_threads", _SIGNATURES["cupar_blas_threads"])
blas_ready = types.ExternalFunction("cupar_blas_ready", _SIGNATURES["cupar_blas_ready"])


@numba.njit(cache=True, nogil=True)
def rows_ok(x, width: int) -> bool:
    """Whether x's rows are contiguous and at least `width` apart (a BLAS leading
    dimension), the stride a whole number of elements."""
    item = x.itemsize
    return x.strides[1] == item and x.strides[0] % item == 0 and \
        x.strides[0] // item >= max(width, 1)


@numba.njit(cache=True, nogil=True)
def blas_tile(a, at: bool, b, bt: bool, i0, i1, j0, j1, dest, di, dj, threads=1) -> bool:
    """`product_tile` (matmul.py) by BLAS where it can: float32 or float64 arrays of
    one type with contiguous rows, a non-empty product. B is `b`, or `b`'s transpose when
    `bt` (BLAS reads it so: no copy). BLAS runs on `threads` threads, the caller's among
    them. False where it did nothing."""
    m, n, k = i1 - i0, j1 - j0, b.shape[1] if bt else b.shape[0]
    if m <= 0 or n <= 0 or k <= 0 or blas_ready() == 0:
        return False
    if not (rows_ok(a, m if at else k) and rows_ok(b, k if bt else n) and rows_ok(dest, n)):
        return False
    item = dest.itemsize
    lda, ldb, ldc = a.strides[0] // item, b.strides[0] // item, dest.strides[0] // item
    pa = a.ctypes.data + (i0 * item if at else i0 * a.strides[0])
    pb = b.ctypes.data + (j0 * b.strides[0] if bt else j0 * item)
    pc = dest.ctypes.data + di * dest.strides[0] + dj * item
    trans_a = np.int32(TRANSPOSED if at else PLAIN)
    trans_b = np.int32(TRANSPOSED if bt else PLAIN)
    before = _threads(np.int32(threads))
    gemm(trans_a, trans_b, m, n, k, a, pa, lda, b, pb, ldb, dest, pc, ldc)
    _threads(before)
    return True


@numba.njit(cache=True, nogil=True)
def blas_reads_transposed(a, b) -> bool:
    """Whether BLAS will take b's transpose as it is (`blas_tile` with `bt`), so that the
    generated code need not copy it into rows first: float arrays of one type, b's rows
    contiguous, a BLAS at hand, and at least 16 columns of product (OpenBLAS's transposed
    path was 2.5x slower than the copy for a narrow one: 2048x16 @ (9x16)^T 25 us, 10)."""
    return one_float_type(a, b, b) and blas_ready() != 0 and b.shape[0] >= 16 and \
        rows_ok(b, b.shape[1])


@numba.njit(cache=True, nogil=True)
def gemm(trans_a, trans_b, m, n, k, a, pa, lda, b, pb, ldb, dest, pc, ldc):
    """C = op(A) op(B) by the BLAS routine of dest's type (the callers checked the types)."""
    if dest.itemsize == 4:
        _sgemm(np.int32(ROW_MAJOR), trans_a, trans_b, m, n, k, np.float32(1.0),
               np.uint64(pa), lda, np.uint64(pb), ldb, np.float32(0.0), np.uint64(pc), ldc)
    else:
        _dgemm(np.int32(ROW_MAJOR), trans_a, trans_b, m, n, k, np.float64(1.0),
               np.uint64(pa), lda, np.uint64(pb), ldb, np.float64(0.0), np.uint64(pc), ldc)


def one_float_type(a, b, dest):
    """Whether a, b and dest are all float32 or all float64 (known when compiling)."""


@overload(one_float_type, inline="always")
def _one_float_type(a, b, dest):
    same = a.dtype == b.dtype == dest.dtype and dest.dtype in (types.float32, types.float64)
    return lambda a, b, dest: same
