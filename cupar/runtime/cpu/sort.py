"""`sort(cmp_lt, xs)` and `sort(cmp_gt, xs)` of numbers at cpu: `sort_numbers(xs, descending)`.

NumPy's sort (a SIMD quicksort) runs on one thread and is faster than anything Numba compiles,
so the work is split for it rather than replaced. A first pass copies the array into the
result's memory (NumPy's sort makes that copy too), counting per chunk the numbers below the
median of a sample; the copy is then partitioned into a second array, lower part then upper
part, and each part is sorted in place by NumPy on a thread of its own. With more threads the
parts are partitioned again (back and forth), ceil(log2(threads)) levels in all.

Work is shared, not divided: the calling thread and helper threads take chunks (then parts)
from one queue until none is left, so a thread that the operating system does not run for a
while delays no one: the others take its share. Where the threads did not run side by side
during the first pass (Linux's autogroups give a session one core's share while another
session is busy, however many threads it runs), partitioning would only add work: the copy is
sorted whole, as NumPy would, and the counting cost next to nothing. Such a machine tends to
stay busy: sorts in the next ALONE_S seconds go straight to one sort (sparing the helpers'
wake-ups), and the first after them looks again. A part is split only
where the sample leaves both sides at least 1/BALANCE of it (else it is copied whole: many
equal numbers). NaN is never below a splitter, so NaNs stay in the upper part, which NumPy
ends with them; descending reverses the result, NaNs first.

Equal numbers are identical bit patterns, so the sort is stable where that shows, except for
-0.0 and +0.0 (NumPy's SIMD sort may even turn one into the other): where the result holds
several zeros they are copied again from the input, in input order, reading only the chunks
that the first pass found zeros in.
"""

from __future__ import annotations

import os
import threading
import time

import numba
import numpy as np

from . import pool

PARALLEL_FROM = 1 << 20  # elements; below, one NumPy sort (a split costs about 0.1 ms)
CHUNK = 1 << 18  # elements a task counts or partitions (1 MiB of float32)
SAMPLE = 1024  # elements sampled for a splitter
BALANCE = 8
PARALLEL_GAIN = 1.3  # parallelism below which one thread sorts (see Counts)
ALONE_S = 0.5  # seconds after such a finding in which sorts skip the first pass's helpers
_alone_until = 0.0  # (time.monotonic())


def sort_numbers(xs: np.ndarray, descending: bool, threads: int | None = None) -> np.ndarray:
    """`threads`: at most this many (default Numba's thread count)."""
    out, zeros = sorted_copy(xs, threads or numba.get_num_threads())
    lo = hi = 0
    if out.dtype.kind == "f":  # sorted, the zeros lie together: find them by bisection
        zero = out.dtype.type(0)  # of the array's dtype: a Python 0.0 would convert the array
        lo, hi = np.searchsorted(out, zero, "left"), np.searchsorted(out, zero, "right")
    if descending:
        up, out = out, pool.empty(out.shape, out.dtype)
        out[...] = up[::-1]
        lo, hi = len(out) - hi, len(out) - lo
    if hi - lo > 1:
        zeros_in_order(xs, out[lo:hi], zeros)
    return out


def zeros_in_order(xs, target, zeros) -> None:
    """The zeros of xs, in order, into target (which holds as many); `zeros`: how many each
    chunk of xs holds, or None where not counted."""
    k = 0
    for c in range(0, xs.shape[0], CHUNK):
        if zeros is None or zeros[c // CHUNK]:
            k = copy_zeros(xs, c, min(c + CHUNK, xs.shape[0]), target, k)


def sorted_copy(xs: np.ndarray, threads: int):
    """xs sorted ascending (NaN last), in memory of its own (pooled when large); and the
    zeros in each chunk of xs, where counted (else None)."""
    global _alone_until
    out = pool.empty(xs.shape, xs.dtype)
    if xs.shape[0] < PARALLEL_FROM or threads < 2 or xs.dtype.kind not in "iuf" or \
            time.monotonic() < _alone_until:
        zeros = None
        if xs.dtype.kind == "f":
            zeros = copy_counting_zeros(xs, out, CHUNK)
        else:
            out[...] = xs
        out.sort()
        return out, zeros
    parts = [(0, xs.shape[0])]
    counts = Counts(xs, parts, threads, copy_to=out)
    if counts.parallelism < PARALLEL_GAIN:  # the helpers did not run alongside: one sort
        _alone_until = time.monotonic() + ALONE_S
        out.sort()
        return out, counts.zeros
    source, spare = out, pool.empty(xs.shape, xs.dtype)
    for level in range(max(1, (threads - 1).bit_length())):
        if level:
            counts = Counts(source, parts, threads)
        parts = partition(source, spare, counts, threads)
        source, spare = spare, source
    parts.sort(key=lambda p: p[0] - p[1])  # the largest first: the last to finish is small
    share(parts, lambda p: source[p[0]:p[1]].sort(), threads)
    return source, counts.zeros if len(parts) <= 2 else None


class Counts:
    """The chunks of each part of `source`, the part's splitter, and each chunk's numbers
    below it and zeros (`copy_to`: also copying the chunks there); `parallelism`: the
    threads' CPU time counting over its wall time (a machine whose other work leaves this
    process one core's share gives about 1, however many threads it runs)."""

    def __init__(self, source, parts: list, threads: int, copy_to=None):
        self.parts = parts
        self.chunks = [[(c, min(c + CHUNK, hi)) for c in range(lo, hi, CHUNK)]
                       for lo, hi in parts]
        self.splits = [splitter(source[lo:hi]) for lo, hi in parts]
        flat = [(c, s) for part, s in zip(self.chunks, self.splits) for c in part]
        self.below, self.zeros = np.zeros(len(flat), np.int64), np.zeros(len(flat), np.int64)
        cpu = np.zeros(len(flat))

        def count(task):
            k, ((lo, hi), s) = task
            start = time.thread_time()
            if copy_to is None:
                self.below[k], self.zeros[k] = count_chunk(source, lo, hi, s)
            else:
                self.below[k], self.zeros[k] = copy_count_chunk(source, lo, hi, s, copy_to)
            cpu[k] = time.thread_time() - start
        start = time.perf_counter()
        share(list(enumerate(flat)), count, threads)
        self.parallelism = cpu.sum() / max(time.perf_counter() - start, 1e-9)


def partition(source, target, counts: Counts, threads: int) -> list:
    """Each part of `source` partitioned around its splitter into the same place in
    `target`: the new parts (an unsplit part stays one)."""
    tasks, new, k = [], [], 0
    for (lo, hi), part, s in zip(counts.parts, counts.chunks, counts.splits):
        mine, k = counts.below[k:k + len(part)].tolist(), k + len(part)
        total = sum(mine)
        if min(total, hi - lo - total) * BALANCE < hi - lo:  # unsplit: copied in order
            s, mine, total = never(source.dtype), [0] * len(part), 0
        a, b = lo, lo + total
        for (c, end), m in zip(part, mine):
            tasks.append((c, end, s, a, b))
            a, b = a + m, b + (end - c) - m
        new += [(lo, lo + total), (lo + total, hi)] if total else [(lo, hi)]
    share(tasks, lambda t: partition_chunk(source, *t, target), threads)
    return new


def splitter(xs: np.ndarray):
    """The median of a strided sample of xs, leaving out NaN (`never` where all are NaN)."""
    sample = np.sort(xs[::max(xs.shape[0] // SAMPLE, 1)])
    if sample.dtype.kind == "f" and np.isnan(sample[-1]):
        sample = sample[:np.searchsorted(sample, np.nan)]
    return sample[sample.shape[0] // 2] if sample.shape[0] else never(xs.dtype)


def never(dtype):
    """A splitter nothing is below."""
    return dtype.type(np.nan) if dtype.kind == "f" else np.iinfo(dtype).min


# -- sharing work ------------------------------------------------------------------------------
_helpers: dict = {}  # (thread count, process) -> executor of that many threads less one
# (by process: a forked child has the dict but not the threads)


def share(tasks: list, work, threads: int) -> None:
    """work(task) for every task, by the calling thread and up to threads - 1 helpers."""
    from concurrent.futures import ThreadPoolExecutor  # (its import costs start-up time)
    job = Job(tasks, work)
    helpers, key = min(threads, len(tasks)) - 1, (threads, os.getpid())
    if helpers > 0 and key not in _helpers:
        _helpers[key] = ThreadPoolExecutor(threads - 1, "cupar-sort")
    for _ in range(max(helpers, 0)):
        _helpers[key].submit(job.run)
    job.run()
    job.finished.wait()
    if job.error is not None:
        raise job.error


class Job:
    """A queue of tasks; `finished` is set when every task is done (a helper that starts
    late finds the queue empty and returns at once)."""

    def __init__(self, tasks: list, work):
        self.tasks, self.work, self.left = iter(tasks), work, len(tasks)
        self.lock, self.finished, self.error = threading.Lock(), threading.Event(), None
        if not tasks:
            self.finished.set()

    def run(self) -> None:
        while True:
            with self.lock:
                task = next(self.tasks, None)
            if task is None:
                return
            try:
                self.work(task)
            except BaseException as exc:  # raised again in the calling thread
                self.error = exc
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.finished.set()


# -- the loops ---------------------------------------------------------------------------------
# Unsigned indices: Numba then emits no negative-index wrap, and the counting loop vectorises.
# A chunk counts in int32 (it holds fewer than 2^31 elements): LLVM vectorises that best.
@numba.njit(cache=True, nogil=True)
def count_chunk(xs, lo, hi, s):
    """How many of xs[lo:hi] are below s, and how many are zero."""
    below, zeros = np.int32(0), np.int32(0)
    for i in range(hi - lo):
        v = xs[np.uint64(lo + i)]
        below += np.int32(v < s)
        zeros += np.int32(v == 0)
    return np.int64(below), np.int64(zeros)


@numba.njit(cache=True, nogil=True)
def copy_count_chunk(xs, lo, hi, s, out):
    """count_chunk, copying xs[lo:hi] into out[lo:hi] as it reads."""
    below, zeros = np.int32(0), np.int32(0)
    for i in range(hi - lo):
        v = xs[np.uint64(lo + i)]
        out[np.uint64(lo + i)] = v
        below += np.int32(v < s)
        zeros += np.int32(v == 0)
    return np.int64(below), np.int64(zeros)


@numba.njit(cache=True, nogil=True)
def copy_counting_zeros(xs, out, chunk):
    """xs copied into out; the zeros in each chunk of xs (as fast as a plain copy)."""
    n = xs.shape[0]
    zeros = np.zeros((n + chunk - 1) // chunk, np.int64)
    for c in range(zeros.shape[0]):
        lo, hi, k = c * chunk, min((c + 1) * chunk, n), np.int32(0)
        for i in range(hi - lo):
            v = xs[np.uint64(lo + i)]
            out[np.uint64(lo + i)] = v
            k += np.int32(v == 0)
        zeros[c] = k
    return zeros


@numba.njit(cache=True, nogil=True)
def partition_chunk(xs, lo, hi, s, a, b, out):
    """xs[lo:hi] in order into out: those below s from a on, the others from b on. (Both
    targets are computed and one chosen: no branch to mispredict on random data.)"""
    for i in range(hi - lo):
        v = xs[np.uint64(lo + i)]
        low = v < s
        out[np.uint64(a if low else b)] = v
        a += np.int64(low)
        b += np.int64(not low)


@numba.njit(cache=True, nogil=True)
def copy_zeros(xs, lo, hi, target, k):
    """The zeros of xs[lo:hi] into target from k on (while it has room); the next k."""
    for i in range(lo, hi):
        if xs[i] == 0 and k < target.shape[0]:
            target[k] = xs[i]
            k += 1
    return k
