"""cupar.dist and nn.DataParallel: runs under `mpiexec -n 2` (each bounded by a timeout, so a
hung rank fails the test instead of hanging CI), and the one-process world without MPI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cupar.dist as dist
from cupar import nn, op_add
from cupar.errors import CuparTypeError, CuparValueError, PlaceUnavailableError
from cupar.nn import optim

HERE = os.path.dirname(__file__)
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or \
    shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install 'cupar[dist]')")


def mpirun(case: str, directory, ranks: int = 2, timeout: float = 240,
           env: dict | None = None):
    """Run dist_worker.py's `case` on `ranks` processes: (returncode, results, output)."""
    directory = str(directory)
    for name in os.listdir(directory):
        if name.startswith("result-"):
            os.remove(os.path.join(directory, name))
    command = [MPIEXEC, "-n", str(ranks), sys.executable, os.path.join(HERE, "dist_worker.py"),
               case, directory]
    full_env = {**os.environ, "NUMBA_NUM_THREADS": "1", **(env or {})}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    output = done.stdout + done.stderr
    results = []
    for rank in range(ranks):
        path = os.path.join(directory, f"result-{rank}.json")
        if os.path.exists(path):
            with open(path) as f:
                results.append(json.load(f))
    return done.returncode, results, output


@needs_mpi
def test_sharded_reduce_and_scan_equal_the_single_process_results(tmp_path):
    code, results, output = mpirun("sharded", tmp_path, ranks=3)
    assert code == 0, output
    assert [r["rank"] for r in results] == [0, 1, 2] and all(r["ok"] for r in results)


@needs_mpi
def test_data_parallel_steps_agree_across_ranks_and_with_one_process(tmp_path):
    # one process first: it compiles the programs, which the two ranks then load from the
    # disk cache instead of both compiling them at once
    (tmp_path / "one").mkdir()
    alone, single, output1 = mpirun("train", tmp_path / "one", ranks=1)
    assert alone == 0, output1
    code, results, output = mpirun("train", tmp_path)
    assert code == 0, output
    assert all(r["same"] for r in results), "parameters differ between ranks"
    assert sum(r["saved"] for r in results) == 1 and results[0]["saved"] == 1
    assert (tmp_path / "model.npz").exists()
    for name, value in results[0]["weights"].items():
        np.testing.assert_allclose(value, single[0]["weights"][name], rtol=1e-5, atol=1e-6)
    assert results[0]["weights"] == results[1]["weights"]
    assert abs(results[0]["loss"] - single[0]["loss"]) < 1e-5


@needs_mpi
def test_batch_norm_statistics_and_dropout_stay_identical_across_ranks(tmp_path):
    (tmp_path / "one").mkdir()  # one process compiles; the two ranks then load its programs
    assert mpirun("batchnorm", tmp_path / "one", ranks=1)[0] == 0
    code, results, output = mpirun("batchnorm", tmp_path)
    assert code == 0, output
    assert len(results) == 2 and all(r["same"] for r in results)


@needs_mpi
def test_a_rank_that_raises_fails_the_whole_job_with_its_error(tmp_path):
    code, _, output = mpirun("raises", tmp_path, timeout=120)
    assert code != 0
    assert "rank 1 of 2" in output and "rank one fails on purpose" in output


@needs_mpi
@pytest.mark.parametrize("case, words", [("wrong_dtype", "float32"),
                                         ("wrong_shape", "(4,)")])
def test_ranks_whose_pieces_disagree_get_a_clear_error(case, words, tmp_path):
    code, _, output = mpirun(case, tmp_path, timeout=120)
    assert code != 0
    assert "the ranks disagree" in output and words in output, output


# -- one process, no mpiexec ----------------------------------------------------------------

def test_one_process_world_runs_everything_unchanged():
    x = np.arange(10, dtype=np.int32)
    assert dist.rank() == 0 and dist.size() == 1
    assert dist.reduce(op_add, dist.shard(x), 0) == 45
    assert (dist.scan(op_add, dist.shard(x)) == np.cumsum(x)).all()
    np.testing.assert_array_equal(dist.allreduce(x.astype(np.float32), op="mean"), x)
    assert dist.broadcast([x, x])[1] is not x
    assert dist.same_on_all_ranks([x])
    dist.barrier()


def test_large_results_come_from_pooled_memory():
    """MPI forgets what it learnt of a buffer when its memory is freed (twice the time for a
    4 MiB allreduce into fresh arrays): large results are pooled, small ones are not."""
    from cupar.runtime.cpu import pool
    big = np.arange(1 << 17, dtype=np.float32)
    first = dist.allreduce(big)
    np.testing.assert_array_equal(first, big)
    assert isinstance(first.base, pool.Lease)
    address = first.ctypes.data
    del first
    assert dist.allreduce(big).ctypes.data == address  # the same block again
    assert not isinstance(dist.allreduce(big[:10]).base, pool.Lease)


def test_collectives_refuse_bad_arguments():
    with pytest.raises(CuparValueError, match="unknown reduction"):
        dist.allreduce(np.ones(3), op="avg")
    with pytest.raises(CuparTypeError, match="float dtype"):
        dist.allreduce(np.ones(3, np.int32), op="mean")
    with pytest.raises(CuparTypeError, match="cupar operator"):
        dist.reduce(lambda a, b: a + b, np.ones(3), 0)
    with pytest.raises(CuparTypeError, match="1-D numeric"):
        dist.scan(op_add, np.ones((2, 2)))
    with pytest.raises(CuparValueError, match="root 3"):
        dist.broadcast(np.ones(2), root=3)


def test_launched_by_mpiexec_without_mpi4py_says_so(monkeypatch):
    from cupar.dist import processes as world
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(PlaceUnavailableError, match="mpi4py is not installed"):
        world.make_world()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert world.make_world().size == 1


def test_linear_scaling_ramps_the_rate_up_over_the_warmup():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, linear_scaling=True, warmup_steps=4)
    assert opt.step_lr() == 0.1
    opt.world_factor = 4
    rates = []
    for step in range(6):
        opt.step_count = step
        rates.append(opt.step_lr())
    np.testing.assert_allclose(rates, [0.1, 0.175, 0.25, 0.325, 0.4, 0.4])


@needs_mpi
def test_the_digits_example_trains_data_parallel(tmp_path):
    example = os.path.join(HERE, "..", "examples", "digits_mlp.py")
    done = subprocess.run([MPIEXEC, "-n", "2", sys.executable, example, "--dist",
                           "--no-progress", "--save", str(tmp_path / "digits.npz")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr  # exits 1 below 0.975 accuracy
    assert done.stdout.count("digits MLP on 2 ranks: test accuracy") == 1
    assert (tmp_path / "digits.npz").exists()


def test_data_parallel_trains_at_gpu0_in_one_process():
    """Gradients come back from the device, are packed and reduced on the host, and go
    back for the update: the parameters stay device arrays (the simulator run checks it)."""
    import warnings

    import cupar
    from cupar.errors import NotCompiledWarning
    from strategies import COMPILED
    if COMPILED is not cupar.places.gpu0:
        pytest.skip("gpu0 runs only (make test's simulator pass)")
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).to(cupar.places.gpu0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = rng.integers(0, 3, 24).astype(np.int64)
    wrapped = nn.DataParallel(model)
    opt = optim.SGD(wrapped.parameters(), lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotCompiledWarning)
        history = nn.fit(wrapped, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt,
                         epochs=3, batch_size=8, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert not isinstance(model[0].weight, np.ndarray)
