"""Subnormal floats flushed to zero for a block of calls: x86's FTZ and DAZ bits (MXCSR), set
on the calling thread and on Numba's worker threads, restored afterwards.

Why: an x86 core takes a micro-code assist of a hundred cycles or more for each vector
instruction that reads or makes a subnormal float. Training makes them: a confident
classifier's softmax probabilities underflow (exp of -90 in float32), and momentum buffers of
weights that stop receiving gradient decay through 1e-38. The digits MLP's step ran 33 us on
fresh weights and 64 us after 300 epochs, with a few hundred subnormal momentum entries; 33
us again with them flushed. TensorFlow's CPU executor flushes them for the same reason;
NumPy, and so here and plain cpu calls, never do.

    with flushing():            # FTZ: subnormal results become 0; DAZ: subnormal inputs
        step(...)               # are read as 0

Machines other than x86-64 are left as they are (`flushing` then changes nothing).
"""

from __future__ import annotations

import platform
import threading

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

FTZ_DAZ = 0x8040  # MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero)
X86 = platform.machine().lower() in ("x86_64", "amd64")


def _mxcsr_call(builder, name: str, slot) -> None:
    fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])


@intrinsic
def _read_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)
    return types.uint32(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(args[0], slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()
    return types.void(types.uint32), codegen


@numba.njit(cache=True, nogil=True)
def set_mxcsr(value):
    _write_mxcsr(np.uint32(value))


@numba.njit(cache=True, nogil=True)
def add_mxcsr(bits):
    """Set `bits` in this thread's MXCSR; return the old value."""
    old = _read_mxcsr()
    _write_mxcsr(old | np.uint32(bits))
    return old


@numba.njit(parallel=True, cache=True, nogil=True)
def _set_on_threads(bits, on, seen):
    """Set (or clear) `bits` in the MXCSR of the thread running each iteration, recording
    each thread's new value. Numba hands the `len(seen)` = number-of-threads iterations of a
    parallel loop out one to each of its threads (a static schedule, one chunk a thread)."""
    for i in numba.prange(len(seen)):
        old = _read_mxcsr()
        new = (old | np.uint32(bits)) if on else (old & ~np.uint32(bits))
        _write_mxcsr(new)
        seen[i] = new


@numba.njit(parallel=True, cache=True, nogil=True)
def threads_mxcsr(seen):
    """Each thread's MXCSR (one iteration a thread), for tests."""
    for i in numba.prange(len(seen)):
        seen[i] = _read_mxcsr()


class flushing:
    """Subnormal floats are flushed to zero inside the block, on the calling thread and on
    Numba's threads (which the block's compiled cpu calls run on), as they were before
    afterwards. Blocks may nest, and run on several Python threads at once. (A class, not
    a generator: entering and leaving cost about a microsecond, once per training step.)"""

    workers = 0  # blocks open on any thread: Numba's threads flush while it is above 0
    lock = threading.Lock()

    def __init__(self, workers: bool = True):
        # workers=False: this thread only, for calls that run on it alone (a small call,
        # cpu_serial): setting Numba's threads costs two parallel launches, 10-15 us
        self.with_workers = workers and POOL > 1

    def __enter__(self):
        if X86:
            self.old = add_mxcsr(FTZ_DAZ)
            if self.with_workers:
                with self.lock:
                    flushing.workers += 1
                    if flushing.workers == 1:
                        set_on_workers(True)
        return self

    def __exit__(self, *exc):
        if X86:
            if self.with_workers:
                with self.lock:
                    flushing.workers -= 1
                    if flushing.workers == 0:
                        set_on_workers(False)
            set_mxcsr(self.old)


POOL = numba.config.NUMBA_NUM_THREADS


def set_on_workers(on: bool) -> None:
    """Set or clear FTZ and DAZ on each of Numba's threads the next parallel loop uses."""
    threads = numba.get_num_threads()
    if threads > 1:
        _set_on_threads(FTZ_DAZ, on, np.zeros(threads, np.uint32))
