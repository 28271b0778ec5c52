"""What generated CUDA modules call: device helpers, launch shapes, device memory (sorting
numbers is sort.py's).

Imported only when the gpu0 place is used (it imports numba.cuda). Launch shapes come from
the device's properties (multiprocessors, threads per block); under Numba's CUDA simulator,
where every thread is a Python thread, blocks are small so tests stay fast yet still run
several blocks and several threads per block.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import config, cuda

SIMULATED = bool(config.ENABLE_CUDASIM)


def counted_module_swaps() -> None:
    """Under the simulator: make its swap of a device function's `cuda` global counted.
    Each call of a device function puts the launch's fake module into the function's
    module and the real one back when it returns; two threads of a block inside device
    functions of one module (this one's `fail`, when both flag an error) then raced: the
    first to return put the real module back under the second, which found no
    `cuda.atomic` (a flaky test's error). Counted, the first call in swaps and the last out
    restores. Every call swaps in the same module, the launch's."""
    from contextlib import contextmanager

    from numba.cuda.simulator import kernel
    lock, depth, saved = threading.Lock(), {}, {}

    @contextmanager
    def swapped(fn, fake):
        names, key = fn.__globals__, id(fn.__globals__)
        with lock:
            if not depth.get(key):
                saved[key] = {k: v for k, v in names.items() if v is cuda}
                names.update(dict.fromkeys(saved[key], fake))
            depth[key] = depth.get(key, 0) + 1
        try:
            yield
        finally:
            with lock:
                depth[key] -= 1
                if not depth[key]:
                    names.update(saved.pop(key))

    kernel.swapped_cuda_module = swapped


if SIMULATED:
    counted_module_swaps()


def device_shape() -> tuple[int, int]:
    """(threads per block, most blocks worth launching) for the current device."""
    if SIMULATED:
        return 8, 4
    if not cuda.is_available():  # (compiling without a GPU, e.g. to check PTX)
        return 256, 1024
    device = cuda.get_current_device()
    per_sm = getattr(device, "MAX_THREADS_PER_MULTI_PROCESSOR", 2048)
    block = 256
    return block, device.MULTIPROCESSOR_COUNT * max(per_sm // block, 1)


BLOCK, MAX_BLOCKS = device_shape()
RUN = 2 if SIMULATED else 8  # (small under the simulator, so tests see several rounds)
# a matrix product's block: (threads a side, elements a thread a side, inner step); 64 x 64
# tiles of 256 threads, 16 accumulators each; under the simulator 4 x 4 tiles of 4 threads
MATMUL = (2, 2, 2) if SIMULATED else (16, 4, 16)


# A warp-per-row kernel's warp: under the simulator, warps of 4 so a block holds two.
WARP = 4 if SIMULATED else 32
# Which kernel a map over rows takes, from the row length at the call: a thread per row below
# ROWS_BY_WARP, a warp per row below ROWS_BY_BLOCK, a block per row from there on (rows.py).
# Guesses, to be measured on an H200 (softmax's rows of 1024 take a warp; CSR SpMV's rows,
# whose lengths only the rows know, take a warp too). Under the simulator all three are
# reached by short rows.
ROWS_BY_WARP, ROWS_BY_BLOCK = (WARP, 2 * BLOCK) if SIMULATED else (8, 2048)


def blocks(n) -> int:
    """Blocks for a grid-stride loop over n elements (n > 0)."""
    return max(min(-(-int(n) // BLOCK), MAX_BLOCKS), 1)


# -- device memory ----------------------------------------------------------------------------
def empty(shape, dtype):
    return cuda.device_array(tuple(int(s) for s in shape), dtype=dtype)


def after_failed_launch():
    """Under the simulator, wait for a failed block's other threads, which Numba flags to
    stop but does not wait for. One still inside a device function puts the real
    `numba.cuda` back into the kernels' module when it returns, which the next launch's
    threads then find without `atomic` (a flaky test's error). Nothing on a GPU."""
    if not SIMULATED:
        return
    import threading
    import time
    from numba.cuda.simulator.kernel import BlockThread
    deadline = time.monotonic() + 5.0  # (a thread that never ends is left, as before)
    for thread in threading.enumerate():
        if isinstance(thread, BlockThread) and thread is not threading.current_thread():
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))


def reshaped(array, rows, columns):
    """The 2-D device array's elements, row-major, as rows x columns: a view where it is
    contiguous, else a copy (cpu's `cupar_reshaped`)."""
    shape = (int(rows), int(columns))
    if array.is_c_contiguous():
        return array.reshape(*shape)
    return cuda.to_device(np.ascontiguousarray(array.copy_to_host())).reshape(*shape)


def copy(array):
    """A device copy of a device array."""
    out = cuda.device_array(array.shape, dtype=array.dtype)
    if array.size:
        out.copy_to_device(array)
    return out


def arange(n):
    out = cuda.device_array(int(n), dtype=np.int64)
    if n:
        _iota[blocks(n), BLOCK](out)
    return out


_tickets = threading.local()


def ticket():
    """A one-element int32 counter on the device, zero between launches: a single-pass
    reduction's blocks take numbers from it, and the last block sets it back to zero. One per
    host thread, since a thread's launches run in order (on the default stream, or on its
    own per-thread default stream)."""
    counter = getattr(_tickets, "counter", None)
    if counter is None:
        counter = _tickets.counter = cuda.device_array(1, np.int32)
        _zero[1, 1](counter)  # (a kernel, not a copy from the host)
    return counter


def warp_blocks(n) -> int:
    """Blocks for a warp-stride loop over n rows (n > 0), a warp each."""
    return max(min(-(-int(n) // (BLOCK // WARP)), MAX_BLOCKS), 1)


def tiles(n) -> int:
    """Tiles of a single-pass scan over n > 0 positions (BLOCK * RUN each)."""
    return -(-int(n) // (BLOCK * RUN))


EPOCHS = 2**30 - 2  # a scan flag is 2 * epoch + 1 or 2, an int32


def scan_flags(n):
    """(flags, epoch): n tile flags for a single-pass scan and the number of its launch. The
    flags are kept between launches (one buffer per host thread, as for `ticket`): a launch
    reads only flags of its own epoch, so those of earlier ones need no zeroing. The buffer
    is zeroed when it grows or the epochs run out."""
    flags, epoch = getattr(_tickets, "flags", (None, EPOCHS))
    if flags is None or flags.shape[0] < n or epoch >= EPOCHS:
        size = max(int(n), 2 * flags.shape[0] if flags is not None else 0)
        flags, epoch = cuda.device_array(size, np.int32), 0
        _clear[blocks(size), BLOCK](flags)
    _tickets.flags = (flags, epoch + 1)
    return flags, np.int64(epoch + 1)


def error_flag():
    """A program's error flag: 0, or 1 + the code of the first Fail a kernel reached."""
    return cuda.to_device(np.zeros(1, np.int64))


@cuda.jit(device=True)
def fail(flag, code):
    """Inside a kernel: flag the error `code` + 1 unless an earlier one is flagged (a
    program reads its flag only where the host must see a value, and before it returns)."""
    cuda.atomic.compare_and_swap(flag, 0, code + 1)


def settle(flag, fails: dict) -> None:
    """Raise the error the kernels launched so far flagged, if any; `fails` maps a code to
    its exception class (this waits for those kernels)."""
    code = int(flag.copy_to_host()[0])
    if code:
        raise fails[code - 1](f"cupar:{code - 1}")


def offsets(lengths, flag=None, fails=None):
    """(offsets, total) of rows of the given lengths laid end to end: offsets on the device,
    n + 1 of them from 0 (row i is [offsets[i], offsets[i + 1])); summed on the host, after
    the flagged errors, if any, are raised."""
    if flag is not None:
        settle(flag, fails)
    host = lengths.copy_to_host()
    at = np.zeros(host.shape[0] + 1, np.int64)
    np.cumsum(np.maximum(host, 0), out=at[1:])
    return cuda.to_device(at), int(at[-1])


def scalar(array, flag=None, fails=None):
    """Element 0 of a one-element device array, on the host, after the flagged errors, if
    any, are raised."""
    if flag is not None:
        settle(flag, fails)
    return array.copy_to_host()[0]


@cuda.jit
def _zero(out):
    out[0] = 0


@cuda.jit
def _clear(out):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = 0


@cuda.jit
def _iota(out):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = i


# -- scalar device helpers (NumPy's meaning where numba-cuda's math differs) --------------------
@cuda.jit(device=True)
def maximum(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a > b else b


@cuda.jit(device=True)
def minimum(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a < b else b


@cuda.jit(device=True)
def sigmoid(x, one):
    """The `sigmoid` primitive; `one` is 1 in x's type (a literal would widen float32)."""
    e = math.exp(-abs(x))
    r = one / (one + e)
    return r if x >= 0 else e * r


# Products that are never contracted with an add into a fused multiply-add (NVVM contracts
# by default): rounded once as a product, as at here and cpu, so maps agree bit for bit.
# The simulator computes in NumPy, which never contracts.
if SIMULATED:
    def exact_product(a, b):
        return a * b
    exact_product32 = exact_product64 = exact_product
else:
    from numba.cuda import libdevice

    @cuda.jit(device=True)
    def exact_product32(a, b):
        return libdevice.fmul_rn(a, b)

    @cuda.jit(device=True)
    def exact_product64(a, b):
        return libdevice.dmul_rn(a, b)


# A histogram's NaN value is stored plainly (CUDA's float atomic max and min drop a NaN);
# the hardware's compare-and-swap loops never replace it once stored. The simulator's atomic
# max and min are a locked read and write instead, which a plain store landing between the
# two would lose: there the store takes their locks.
if SIMULATED:
    from numba.cuda.simulator import kernelapi as _simulator

    def store_nan(array, index, value):
        with _simulator.maxlock, _simulator.minlock:
            array[index] = value
        return value
else:
    @cuda.jit(device=True)
    def store_nan(array, index, value):
        array[index] = value
        return value


# A value another block published, read from L2 (ld.global.cg): the reading SM's L1 is not
# kept coherent and may hold an older copy of its line. The simulator has one memory.
if SIMULATED:
    def load_cg(array, index):
        return array[index]
else:
    @cuda.jit(device=True)
    def load_cg(array, index):
        return cuda.ldcg(array, index)


# Warp shuffles and the warp barrier, over all lanes of a warp. The simulator (which has
# none) runs a block's threads as Python threads: there a warp's lanes meet at a barrier of
# their own, kept with the block, and exchange values through a list.
if SIMULATED:
    _warps_made = threading.Lock()

    def _warp():
        """(barrier, slots) of the calling simulated thread's warp, and its lane."""
        thread = threading.current_thread()
        block = thread._manager  # (one per block and launch)
        with _warps_made:
            warps = block.__dict__.setdefault("cupar_warps", {})
            warp = warps.setdefault(thread.thread_id // WARP,
                                    (threading.Barrier(WARP, timeout=60), [None] * WARP))
        return warp, thread.thread_id % WARP

    def _exchange(value, source):
        (barrier, slots), lane = _warp()
        slots[lane] = value
        barrier.wait()
        src = source(lane)
        got = slots[src] if 0 <= src < WARP else value
        barrier.wait()  # (before a next exchange overwrites the slots)
        return got

    def shfl_down(value, delta):
        return _exchange(value, lambda lane: lane + delta)

    def shfl_idx(value, lane):
        return _exchange(value, lambda _: lane)

    def syncwarp():
        _warp()[0][0].wait()
else:
    @cuda.jit(device=True)
    def shfl_down(value, delta):
        return cuda.shfl_down_sync(0xFFFFFFFF, value, delta)

    @cuda.jit(device=True)
    def shfl_idx(value, lane):
        return cuda.shfl_sync(0xFFFFFFFF, value, lane)

    @cuda.jit(device=True)
    def syncwarp():
        cuda.syncwarp(0xFFFFFFFF)


@cuda.jit(device=True)
def fast_product32(a, b):
    """A product the compiler may fuse with an add (places.gpu0_fastmath)."""
    return a * b


fast_product64 = fast_product32


@cuda.jit(device=True)
def floor(x):
    if not abs(x) < 4503599627370496.0:  # NaN, inf, or already integral (>= 2^52)
        return x
    return math.floor(x)


@cuda.jit(device=True)
def ceil(x):
    if not abs(x) < 4503599627370496.0:
        return x
    return math.ceil(x)
