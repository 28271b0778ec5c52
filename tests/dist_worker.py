"""Programs that tests/test_dist.py runs under `mpiexec -n N python dist_worker.py CASE DIR`.
Each rank writes its results to DIR/result-RANK.json for the test to read (the ranks' output
streams interleave); what must hold on every rank is asserted here too, so a failure names
its rank."""

from __future__ import annotations

import json
import os
import sys

import numpy as np

import cupar.dist as dist
from cupar import maximum, op_add, op_mul, parallel


@parallel
def larger(a, b):
    return maximum(a, b)


DIRECTORY = "."


def report(**values) -> None:
    with open(os.path.join(DIRECTORY, f"result-{dist.rank()}.json"), "w") as f:
        json.dump({"rank": dist.rank(), **values}, f)


def sharded(_: str) -> None:
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 5, 1000):
        x = rng.integers(-100, 100, n).astype(np.int64)
        start, stop = dist.shard_bounds(n)
        piece = dist.shard(x)
        assert dist.reduce(op_add, piece, 3) == x.sum() + 3
        assert dist.reduce(larger, piece, -10 ** 6) == max([-10 ** 6, *x.tolist()])
        assert dist.reduce(maximum, piece, -10 ** 6) == max([-10 ** 6, *x.tolist()])
        assert (dist.scan(op_add, piece) == np.cumsum(x)[start:stop]).all()
        assert (dist.scan(larger, piece) == np.maximum.accumulate(x)[start:stop]).all()
        small = (x % 3 + 1).astype(np.int32)
        assert dist.reduce(op_mul, dist.shard(small[:12]), 1) == np.prod(small[:12])
    f = rng.normal(size=4097).astype(np.float32)
    total = dist.reduce(op_add, dist.shard(f), 0.0)
    scanned = dist.scan(op_add, dist.shard(f))
    start, stop = dist.shard_bounds(len(f))
    expected = np.cumsum(f.astype(np.float64))[start:stop]
    assert np.allclose(scanned, expected, rtol=1e-4, atol=1e-3), abs(scanned - expected).max()
    assert abs(total - f.astype(np.float64).sum()) < 1e-3
    summed = dist.allreduce(np.full(650, dist.rank() + 1, np.float32))
    assert (summed == dist.size() * (dist.size() + 1) / 2).all()
    assert dist.allreduce(np.int64(dist.rank()), op="max") == dist.size() - 1
    assert float(dist.broadcast(np.float64(dist.rank() + 5))) == 5.0
    assert np.ndim(dist.allreduce(1.5)) == 0 and dist.allreduce(1.5) == 1.5 * dist.size()
    assert np.ndim(dist.broadcast(2.0)) == 0
    assert (dist.allreduce(np.ones((3, 2), np.float32).T) == dist.size()).all()
    report(ok=True, size=dist.size())


def train(directory: str) -> None:
    """Three data-parallel steps of a small classifier; parameters and a checkpoint."""
    from cupar import nn
    from cupar.nn import optim
    saved = []
    original = np.savez
    np.savez = lambda *a, **k: (saved.append(dist.rank()), original(*a, **k))
    nn.manual_seed(dist.rank())  # different everywhere: DataParallel must broadcast rank 0's
    rng = np.random.default_rng(1)
    x = rng.normal(size=(96, 8)).astype(np.float32)
    y = rng.integers(0, 3, 96).astype(np.int64)
    model = nn.DataParallel(nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3)))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    per_rank = int(os.environ.get("GLOBAL_BATCH", "32")) // dist.size()
    rows = per_rank * dist.size() * 3 + 1  # the last global batch has one row: one rank none
    history = nn.fit(model, (x[:rows], y[:rows]),
                     loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, batch_size=per_rank,
                     seed=0, progress=False)
    same = dist.same_on_all_ranks(model.parameters())
    nn.save(model, os.path.join(directory, "model.npz"))
    np.savez = original
    weights = {k: v.tolist() for k, v in model.state_dict().items()}
    report(same=same, loss=history["loss"][0], saved=len(saved), weights=weights)


def batchnorm(_: str) -> None:
    """Batch norm's running statistics are averaged with the gradients: the same everywhere."""
    from cupar import nn
    from cupar.nn import optim
    rng = np.random.default_rng(dist.rank())  # each rank its own data
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = rng.integers(0, 2, 40).astype(np.int64)
    model = nn.DataParallel(nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                          nn.Dropout(0.2), nn.Linear(8, 2)))
    opt = optim.Adam(model.parameters(), lr=0.01)
    nn.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, batch_size=10,
           progress=False)
    report(same=dist.same_on_all_ranks(model.parameters() + model.buffers()))


def raises(_: str) -> None:
    dist.barrier()
    if dist.rank() == 1:
        raise RuntimeError("rank one fails on purpose")
    dist.allreduce(np.ones(4))  # rank 0 would wait here forever without the abort
    report(ok=True)


def wrong_dtype(_: str) -> None:
    piece = np.arange(4, dtype=np.int64 if dist.rank() == 0 else np.float32)
    dist.reduce(op_add, piece, 0)
    report(ok=True)


def wrong_shape(_: str) -> None:
    dist.allreduce(np.ones(3 + dist.rank(), np.float32))
    report(ok=True)


CASES = {f.__name__: f for f in (sharded, train, batchnorm, raises, wrong_dtype,
                                  wrong_shape)}

if __name__ == "__main__":
    DIRECTORY = sys.argv[2] if len(sys.argv) > 2 else "."
    CASES[sys.argv[1]](DIRECTORY)
