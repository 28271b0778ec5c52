"""benchmarks/nn.py and nn_models.py, the NumPy MLP only, in a few seconds (so that the
training benchmark cannot rot unnoticed): the data split, the hand-written gradients against
central finite differences, a short training run, and `nn.py --quick --accuracy`."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import nn_models as M  # noqa: E402


def load_bench():
    """benchmarks/nn.py under another name: `nn` is too common a module name to import."""
    spec = importlib.util.spec_from_file_location("nn_bench", BENCHMARKS / "nn.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_split():
    x_tr, y_tr, x_te, y_te = M.digits()
    assert x_tr.shape == (1437, 64) and x_te.shape == (360, 64)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert 0 <= x_tr.min() and x_tr.max() <= 1
    assert np.bincount(y_te).min() >= 35  # stratified: 35 or 36 of each class
    assert M.digits_images()[0].shape == (1437, 1, 8, 8)


def test_numpy_mlp_gradient():
    """One step from zero velocity moves the parameters by lr times the mean loss's gradient;
    compared with central differences of the loss (float64 copies of the weights)."""
    x_tr, y_tr, _, _ = M.digits()
    x, y = x_tr[:8], y_tr[:8]
    mlp = M.NumpyMLP(seed=3, lr=1.0)
    start = mlp.params.astype(np.float64)

    def loss(params):
        w1 = params[:mlp.w1.size].reshape(mlp.w1.shape)
        w2 = params[mlp.w1.size:].reshape(mlp.w2.shape)
        h = np.maximum(np.c_[x, np.ones(len(x))] @ w1, 0)
        logits = np.c_[h, np.ones(len(x))] @ w2
        m = logits.max(axis=1)
        lse = np.log(np.exp(logits - m[:, None]).sum(axis=1)) + m
        return np.mean(lse - logits[np.arange(len(x)), y])

    batch_loss = mlp.step(mlp.with_ones(x), mlp.eye[y]) / len(x)
    assert batch_loss == pytest.approx(loss(start), rel=1e-5)
    grad = start - mlp.params
    rng = np.random.default_rng(0)
    for i in rng.choice(len(start), 40, replace=False):
        e = np.zeros_like(start)
        e[i] = 1e-5
        numeric = (loss(start + e) - loss(start - e)) / 2e-5
        assert grad[i] == pytest.approx(numeric, abs=1e-5)


def test_numpy_mlp_trains():
    data = M.digits()
    accuracy = M.train(M.NumpyMLP(data, seed=0), data, batch_size=32, epochs=10)
    assert accuracy > 0.95  # 0.972 (0.975 after the benchmark's 30 epochs)


def test_bench_quick(tmp_path):
    out = tmp_path / "RESULTS-nn.md"
    bench = load_bench()
    assert bench.main(["--quick", "--accuracy", "--only", "mlp", "--impl", "numpy",
                       "--threads", "1", "--out", str(out)]) == 0
    table = out.read_text()
    for batch in (32, 256):
        row = next(line for line in table.splitlines() if line.startswith(f"| mlp | {batch} |"))
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[2].startswith("numpy") and float(cells[3].replace(",", "")) > 0
        assert cells[4] == "1.00" and cells[5].endswith(f"({bench.QUICK_EPOCHS} epochs)")
    assert set(bench.TRAINERS["cupar"]) == {"mlp", "cnn", "gru", "lstm"}
