"""A training step across the cores: the batch cut into contiguous shards, one thread each.

A recurrent model's step is a chain of small products (an LSTM at batch 100, hidden 64: a
100x64 @ 64x256 product per time step, three per step of training) whose time steps must run
one after another. Cutting each product across two cores costs a parallel launch per product
(tens of launches per step), more than the product; BLAS's own threads do not help at that
size either. What does is the data parallelism the batch already has: each thread runs the
whole gradient program (forward, loss, backward, every time step) on its own rows, and the
threads meet once per step, to sum their gradients. The compiled programs release the GIL,
so the threads run at once.

    step = nn.TrainStep(model, loss, optimizer, workers=2)   # None: see `auto_workers`
    step(x, y)                    # the gradients of two halves of (x, y), summed, one update

A step's gradient is the mean over the batch, so each shard's gradient counts by its share
of the rows: the result equals the unsharded step's to rounding (the sums are grouped per
shard), and a fixed seed gives the same numbers in every run (the shards and the order of
the sum are fixed). Dropout draws each shard's mask from its own seed, as data-parallel
training does across processes (`nn.DataParallel`); a model with batch norm is never
sharded, as its statistics would then be the shards' rather than the batch's.

Measured (LSTM value_and_grad at the mnist1d sizes, 2-core AMD EPYC, one process): the
whole batch on one thread 10.1 ms, each half 4.7 ms, the two halves on two threads 5.3 ms.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

import cupar
from cupar.errors import CuparIndexError

from .codegen import image_shape
from .conv_api import BatchNormNd
from .recurrent_api import RecurrentBase

SHARD_ROWS = 16  # the fewest rows a shard is given: smaller ones do not pay for the meeting


def eligible(model) -> bool:
    """Whether steps of `model` are sharded by default: a recurrent model at cpu without
    batch norm (its time steps are serial and its products too small to cut). Steps of the
    digits MLP, tens of microseconds, would pay more to meet than they save; the CNN's large
    products already use BLAS's threads."""
    if getattr(model, "place", cupar.places.cpu) is not cupar.places.cpu:
        return False
    layers = [m for _, m in model.named_modules()]
    return any(isinstance(m, RecurrentBase) for m in layers) and \
        not any(isinstance(m, BatchNormNd) for m in layers)


# the cores this process may run on (read once: a system call)
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
    (os.cpu_count() or 1)


def core_count() -> int:
    """The threads a sharded step uses by default: Numba's thread count (which
    `numba.set_num_threads` sets, as it bounds cupar's other threads), at most the cores."""
    return max(min(numba.get_num_threads(), CORES), 1)


def auto_workers(model, batch_size: int | None = None) -> int:
    """The threads a step of `model` on `batch_size` rows takes by default."""
    if not eligible(model):
        return 1
    return len(bounds(batch_size, core_count())) if batch_size is not None else core_count()


def bounds(rows: int, workers: int) -> list[tuple[int, int]]:
    """The shards' (start, stop) rows: contiguous, as even as can be, none empty."""
    count = max(min(workers, rows // SHARD_ROWS), 1)
    edges = [rows * k // count for k in range(count + 1)]
    return list(zip(edges[:-1], edges[1:]))


class Shards:
    """The gradient and update programs of a TrainStep (`TrainStep.gradient_and_update`),
    run with each batch cut across `workers` threads."""

    def __init__(self, step, workers: int | None):
        """`workers`: the threads, or None for `auto_workers`' at each step."""
        self.step, self.requested = step, workers
        self.programs: dict = {}
        self.pool, self.pool_size = None, 0

    def threads(self) -> int:
        """The threads steps are cut across now (1: they are not). A batch too small for
        that many shards of SHARD_ROWS, such as an epoch's last, runs these programs on
        fewer (one), rather than compile the unsharded step for it."""
        if self.requested is None:
            return auto_workers(self.step.model)
        return self.requested

    def executor(self, size: int) -> ThreadPoolExecutor:
        if self.pool is None or self.pool_size < size:
            if self.pool is not None:
                self.pool.shutdown()
            self.pool = ThreadPoolExecutor(size, thread_name_prefix="cupar-shard")
            self.pool_size = size
        return self.pool

    def programs_for(self, x):
        key = (np.ndim(x), image_shape(x))
        fresh = key not in self.programs
        if fresh:
            self.programs[key] = self.step.gradient_and_update(*key)
        return self.programs[key], fresh

    def __call__(self, x, y, check_finite: bool = False) -> float:
        """One step on batch (x, y): the step's loss as a float. With `check_finite`, a
        step whose loss is NaN or infinite changes nothing."""
        step = self.step
        step.check(x, y)
        (gradient, update), fresh = self.programs_for(x)
        n = len(step.names)
        arrays = [table[key] for table, key in step.slots]
        pieces = bounds(len(x), self.threads())
        seed = step.optimizer.step_count * len(pieces)
        serial = cupar.places.cpu_serial

        def shard(k: int, start: int, stop: int):
            with cupar.places.cpu.subnormals_flushed(workers=False):
                return gradient(*arrays, x[start:stop], y[start:stop], seed + k,
                                target_place=serial)
        try:
            if fresh or len(pieces) == 1:  # (a first call compiles: once, on this thread)
                results = [shard(k, *b) for k, b in enumerate(pieces)]
            else:
                pool = self.executor(len(pieces) - 1)
                later = [pool.submit(shard, k, *b) for k, b in enumerate(pieces) if k]
                results = [shard(0, *pieces[0])] + [f.result() for f in later]
        except CuparIndexError as err:
            raise step.label_error(err) from None
        loss, correct, summed = combine(results, pieces, len(x))
        if check_finite and not np.isfinite(loss):
            return loss
        hyper = tuple(step.optimizer.hyper().values())
        small = step.small(0)
        with cupar.places.cpu.subnormals_flushed(workers=not small):
            new = update(*arrays[:n], *step.states.values(), *summed[:n], *hyper,
                         float(step.clip_norm or 0.0),
                         target_place=serial if small else cupar.places.cpu)
        new = list(new) if isinstance(new, tuple) else [new]
        step.adopt(new + summed[n:], 1)
        step.correct = correct
        return loss


def combine(results: list, pieces: list, rows: int):
    """(loss, correct, arrays) of a batch from its shards' (loss, correct, gradients...,
    new buffers...): each shard's numbers weighted by its share of the rows, summed in shard
    order (so the same in every run)."""
    loss, correct, total = 0.0, 0, None
    for (start, stop), (shard_loss, shard_correct, *arrays) in zip(pieces, results):
        share = (stop - start) / rows
        loss += share * float(shard_loss)
        correct += int(shard_correct)
        weighted = [np.multiply(a, np.asarray(share, np.asarray(a).dtype)) for a in arrays]
        total = weighted if total is None else [np.add(t, w, out=t) for t, w in
                                               zip(total, weighted)]
    return loss, correct, total
