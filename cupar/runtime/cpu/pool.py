"""Reused memory for large results at cpu, so a new result does not pay for fresh pages.

glibc serves an allocation above its mmap threshold (at most 32 MiB) with a fresh mapping and
unmaps it when freed, so every large `np.empty` result is zeroed by the kernel page by page
on first touch: about 3 ms for 64 MiB on the development machine, half the time of a scan.
Like CuPy's and PyTorch's caching allocators, cupar keeps the memory of dead large results
and hands it to the next result of the same rounded size.

An array from `empty` views a block through a `Lease`: NumPy keeps the lease as the base of
the array and of every view of it, so the block goes back to the pool only when the last
array using it dies. Idle blocks are capped at `CUPAR_POOL_BYTES` (default 1 GiB; 0 turns
the pool off); beyond that a dead result's block is freed at once. The memory of a reused
block holds old values, as `np.empty`'s may.

Below that size, a program's own arrays come from malloc, whose memory glibc hands back to
the system when more than its trim threshold is free at the top of the heap (by default
twice the largest block freed so far). A training step that allocates and frees a few MiB
of temporaries then faulted fresh pages in at every call: a sixth of a small CNN's step
time in the kernel (page faults, zeroing). `tune_malloc` fixes the mmap threshold at 32 MiB
(glibc's own largest) and keeps up to `CUPAR_MALLOC_KEEP` bytes (default 64 MiB; 0 leaves
glibc's defaults) free in the heap: that step took 3.7-5.2 ms before, 2.8-4.1 after
(alternating processes).
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

import numpy as np

POOL_FROM = 32 << 20  # bytes: glibc's largest mmap threshold; below it malloc reuses memory
ROUND = 2 << 20  # sizes round up to whole huge pages, so near sizes share blocks


class Pool:
    """Idle blocks by size; thread-safe (a lease may die in any thread)."""

    def __init__(self, idle_cap: int):
        self.idle_cap, self.idle_bytes = idle_cap, 0
        self.idle: dict[int, list[np.ndarray]] = {}
        self.lock = threading.Lock()

    def take(self, nbytes: int) -> np.ndarray:
        size = -(-nbytes // ROUND) * ROUND
        with self.lock:
            blocks = self.idle.get(size)
            if blocks:
                self.idle_bytes -= size
                return blocks.pop()
        return np.empty(size, np.uint8)  # NumPy advises huge pages for it

    def give_back(self, block: np.ndarray) -> None:
        with self.lock:
            if self.idle_bytes + block.nbytes <= self.idle_cap:
                self.idle.setdefault(block.nbytes, []).append(block)
                self.idle_bytes += block.nbytes

    def clear(self) -> None:
        with self.lock:
            self.idle.clear()
            self.idle_bytes = 0


class Lease:
    """A block lent to one result: the base NumPy keeps for the array and its views."""

    def __init__(self, pool: Pool, block: np.ndarray, shape: tuple, dtype: np.dtype):
        self.pool, self.block = pool, block
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "version": 3,
                                    "data": (block.ctypes.data, False)}

    def __del__(self):
        self.pool.give_back(self.block)


POOL = Pool(int(os.environ.get("CUPAR_POOL_BYTES", 1 << 30)))
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (glibc's malloc.h)


def tune_malloc(keep: int) -> bool:
    """glibc's malloc keeps up to `keep` free bytes in the heap, and serves blocks below
    POOL_FROM from it (see the module's doc); False where it is not glibc or keep is 0."""
    if keep <= 0 or platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, POOL_FROM) and
                libc.mallopt(M_TRIM_THRESHOLD, keep))


MALLOC_TUNED = tune_malloc(int(os.environ.get("CUPAR_MALLOC_KEEP", 64 << 20)))


def empty(shape: tuple, dtype, pooled_from: int | None = None) -> np.ndarray:
    """np.empty(shape, dtype), from the pool when the array has at least `pooled_from`
    bytes. (MPI's large-message paths cache what they learn of a buffer by its address
    and forget it when the memory is freed: `cupar.dist` pools results from 256 KiB on,
    which halves a 4 MiB allreduce's time.)"""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    threshold = POOL_FROM if pooled_from is None else pooled_from
    if nbytes < threshold or POOL.idle_cap == 0 or dtype.hasobject:
        return np.empty(shape, dtype)
    return np.asarray(Lease(POOL, POOL.take(nbytes), tuple(shape), dtype))
