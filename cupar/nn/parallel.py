"""Synchronous data-parallel training over MPI (`cupar.dist`).

    model = nn.DataParallel(nn.Sequential(...))       # rank 0's initial parameters everywhere
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, linear_scaling=True,
                    warmup_steps=100)
    nn.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, batch_size=256)

Run under `mpiexec -n N python train.py`; under plain `python` it is ordinary training.
`batch_size` is per rank: every global batch of N * batch_size rows (the same seeded shuffle
on every rank) is cut into N contiguous shards, one per rank. A step is two compiled calls
and one collective: the gradient program on the local shard, one `Allreduce` of everything
the ranks must agree on (all gradients, weighted by each shard's share of the global batch,
the new running statistics of batch norm, the loss and the number of correct rows) packed
into one buffer per `bucket_bytes`, then the update program, identical on every rank. So after
any number of steps the parameters are the same on every rank, bit for bit, and equal, to
rounding, to one process training on the whole global batch.

The backward pass is one compiled call, so the reduction cannot start while it runs; the
buckets' reductions are started as each is packed, and overlap the packing of the next.
Starting the reduction before the backward pass (the most a split backward could overlap)
saved nothing on 2 cores: MPICH progresses it only in MPI calls (benchmarks/dist_overlap.py).
"""

from __future__ import annotations

import os
import time

import numpy as np

import cupar
import cupar.dist as dist
from cupar.dsl.decorator import caller_loc

from .compiled import TrainStep, check_place, image_shape

BUCKET_BYTES = 25 * 2 ** 20  # as torch's DistributedDataParallel


class DataParallel:
    """`module`, trained by every process of the job on its shard of each batch. Everything
    but training (calling it, `parameters()`, `state_dict()`, `eval()`, ...) is the module's."""

    def __init__(self, module, bucket_bytes: int = BUCKET_BYTES):
        if isinstance(module, DataParallel):
            module = module.module
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "bucket_bytes", int(bucket_bytes))
        dist.broadcast(module)
        if module.place is not cupar.places.cpu:
            module.to(module.place)  # broadcast left host arrays: put them back

    def __getattr__(self, name):
        return getattr(self.module, name)

    def __setattr__(self, name, value):
        setattr(self.module, name, value)

    def __call__(self, x):
        return self.module(x)

    def __repr__(self) -> str:
        return f"DataParallel({self.module!r})"


class DistributedStep(TrainStep):
    """One data-parallel step: `step(x_shard, y_shard, global_rows)`."""

    def __init__(self, model: DataParallel, loss, optimizer, clip_norm: float | None = None):
        super().__init__(model.module, loss, optimizer, clip_norm, workers=1)
        self.bucket_bytes = model.bucket_bytes
        self.world = dist.world()
        if optimizer.linear_scaling:
            optimizer.world_factor = self.world.size
        self.checked = False
        # whether every rank of this machine has a core of its own: a blocking reduction
        # then spins on a core no one else wants (else the wait tests and yields)
        self.own_cores = self.world.size <= len(os.sched_getaffinity(0)) \
            if hasattr(os, "sched_getaffinity") else False
        # seconds spent in each part of the steps so far, for benchmarks and tuning
        self.seconds = {"gradient": 0.0, "allreduce": 0.0, "update": 0.0}

    def generate(self, rank: int, shape: tuple | None = None):
        """Two programs: `gradients` and `update` (`TrainStep.gradient_and_update`)."""
        return self.gradient_and_update(rank, shape)

    def __call__(self, x, y, global_rows: int | None = None, sync: bool = True,
                 check_finite: bool = False):
        """One step on this rank's shard (x, y) of a global batch of `global_rows` rows
        (default: every rank's shard as large as this one). Returns the global mean loss."""
        self.loss.check(x, y)
        self.model.check_input(x)
        check_place(self.model, x, [(k, t[k]) for t, k in self.slots])
        if not self.checked:
            self.check_ranks_agree(x)
        gradient, update = self.function_for(x)
        n = len(self.names)
        arrays = [table[key] for table, key in self.slots]
        seed = self.optimizer.step_count * self.world.size + self.world.rank
        share = len(x) / (global_rows or len(x) * self.world.size)
        started = time.perf_counter()
        if len(x):
            with cupar.places.cpu.subnormals_flushed():
                loss, correct, *local = gradient(*arrays, x, y, seed,
                                                 target_place=self.model.place)
        else:  # a global batch smaller than the world leaves this rank nothing
            loss, correct = 0.0, 0
            local = [np.zeros(np.shape(a), np.dtype(a.dtype)) for a in arrays]
        reduced_at = time.perf_counter()
        reduced, loss, correct = self.allreduce(local, loss, correct, share)
        updated_at = time.perf_counter()
        if check_finite and not np.isfinite(loss):
            return loss
        grads, news = reduced[:n], reduced[n:]
        hyper = tuple(self.optimizer.hyper().values())
        with cupar.places.cpu.subnormals_flushed():
            result = update(*arrays[:n], *self.states.values(), *grads, *hyper,
                            float(self.clip_norm or 0.0), target_place=self.model.place)
        result = result if isinstance(result, tuple) else (result,)
        done = time.perf_counter()
        self.seconds["gradient"] += reduced_at - started
        self.seconds["allreduce"] += updated_at - reduced_at
        self.seconds["update"] += done - updated_at
        for (table, key), new in zip(self.slots, list(result[:n]) + news):
            table[key] = new
        for key, new in zip(self.states, result[n:]):
            self.states[key] = new
        self.optimizer.params = list(result[:n])
        self.optimizer.step_count += 1
        self.correct = correct
        return loss

    def allreduce(self, arrays: list, loss, correct, share: float):
        """Sum share * array over ranks for every array (the gradients, the new buffers),
        share * loss and the correct rows, in buckets packed into one buffer each."""
        hosts = [np.asarray(cupar.places.to_host(a)) for a in arrays]
        dtype = np.result_type(*hosts) if hosts else np.float64
        sizes = [h.size for h in hosts]
        packed = self.buffer(sum(sizes) + 2, dtype)
        packed[-2:] = share * float(cupar.places.to_host(loss)), \
            float(cupar.places.to_host(correct))
        requests, offset, start = [], 0, 0
        for host, size in zip(hosts, sizes):
            np.multiply(host.reshape(-1), share, out=packed[offset:offset + size],
                        casting="unsafe")
            offset += size
            if (offset - start) * packed.itemsize >= self.bucket_bytes:
                requests.append(self.start_reduce(packed[start:offset]))
                start = offset
        if not requests and self.world.size > 1 and self.own_cores:
            self.world.allreduce_into(packed, "sum")  # one bucket, no other rank to let run
        else:
            requests.append(self.start_reduce(packed[start:]))
        for request in requests:
            if request is not None:
                self.wait(request)
        outs, offset = [], 0
        for k, (host, size) in enumerate(zip(hosts, sizes)):
            out = packed[offset:offset + size].reshape(host.shape).astype(host.dtype,
                                                                           copy=False)
            if self.model.place is not cupar.places.cpu:
                out = self.model.place_array(out)
            elif k >= len(self.names):  # new buffers outlive the packed buffer, reused
                out = out.copy()
            outs.append(out)
            offset += size
        return outs, float(packed[-2]), int(round(float(packed[-1])))

    def buffer(self, size: int, dtype) -> np.ndarray:
        """The packing buffer, kept from step to step: memory already touched is reduced
        faster (and the gradients in it are used only within a step)."""
        kept = self.__dict__.get("packed")
        if kept is None or kept.size != size or kept.dtype != dtype:
            kept = self.packed = np.empty(size, dtype)
        return kept

    def wait(self, request) -> None:
        """MPI's Wait spins: where ranks (or other programs) outnumber the cores, the
        spinning ranks take the cores from those still computing. Testing and yielding
        costs nothing measurable when the cores are free, and keeps loaded machines fair."""
        while not request.Test():
            os.sched_yield()

    def start_reduce(self, bucket: np.ndarray):
        if self.world.size == 1:
            return None
        from mpi4py import MPI
        return self.world.comm.Iallreduce(MPI.IN_PLACE, bucket, op=MPI.SUM)

    def check_ranks_agree(self, x) -> None:
        """Once: every rank must hold the same model and feed the same kind of input, or
        the packed reductions would mix unrelated numbers."""
        signature = (repr(self.model), str(np.dtype(x.dtype)), np.shape(x)[1:],
                     image_shape(x))
        self.world.agree("data-parallel training", signature, caller_loc())
        self.checked = True


def shard_rows(rows: np.ndarray) -> np.ndarray:
    """This rank's contiguous piece of a global batch's row numbers."""
    start, stop = dist.shard_bounds(len(rows))
    return rows[start:stop]

