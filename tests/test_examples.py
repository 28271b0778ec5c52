"""Every example runs and checks itself, and `cupar.explain` walks each one's main function."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

import cupar

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
F32 = np.float32


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"cupar_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arange(n, dtype=F32):
    return np.arange(n, dtype=dtype)


# example -> (its main @parallel function, arguments to explain it at)
MAIN_FUNCTIONS = {
    "quickstart": ("axpy", lambda: (F32(2), arange(4), arange(4))),
    "axpy": ("axpy", lambda: (F32(2), arange(4), arange(4))),
    "black_scholes": ("black_scholes",
                      lambda: (arange(4) + 1, arange(4) + 2, arange(4) + 1, F32(0.02), F32(0.3))),
    "extrema": ("min_with_index", lambda: (arange(4),)),
    "radix_sort": ("radix_sort", lambda: (arange(4, np.uint32), 32, False)),
    "laplace": ("jacobi", lambda: (np.zeros((4, 4), F32), 3)),
    "mandelbrot": ("mandelbrot", lambda: (arange(4), arange(4), 16)),
    "conjugate_gradient": ("conjugate_gradient", lambda: (np.ones(4), 8, 1e-12)),
    "fibonacci": ("fibs", lambda: (arange(4, np.int64),)),
    "greeks": ("greeks", lambda: (arange(4) + 5, arange(4) + 2, arange(4) + 1, F32(0.02),
                                  arange(4) * F32(0.1) + F32(0.1))),
    "logistic_regression": ("loss_and_gradients",
                            lambda: (arange(3), F32(0.5), np.ones((4, 3), F32),
                                     np.array([0, 1, 1, 0], F32))),
    "spmv": ("spmv", lambda: (arange(3), np.array([0, 1, 2], np.int32),
                              np.array([0, 2, 3], np.int32), arange(3))),
}
STAGES = {"source", "parse", "resolve_globals", "check_tail_calls", "infer_types"}
# cupar.nn's training examples: minutes each, so `make test` runs one for a few epochs
NN_EXAMPLES = {"digits_mlp", "digits_cnn", "mnist1d_gru", "mnist1d_lstm", "char_rnn"}
SLOW = os.environ.get("CUPAR_SLOW") == "1"


def test_every_example_is_listed():
    stems = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("test_")}
    assert stems == set(MAIN_FUNCTIONS) | NN_EXAMPLES | {"nn_common"}


@pytest.mark.parametrize("name", sorted(NN_EXAMPLES))
def test_nn_example_trains(name, capsys, monkeypatch, tmp_path):
    """A short run of each training example (all of them with CUPAR_SLOW=1): it prints its
    accuracy and samples/s and writes its plot."""
    pytest.importorskip("sklearn")
    if name != "digits_mlp" and not SLOW:
        pytest.skip("CUPAR_SLOW=1 trains every example")
    if name.startswith("mnist1d"):
        pytest.importorskip("mnist1d")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    plot = tmp_path / "curves.png"
    load(name).main(["--epochs", "2", "--no-progress", "--plot", str(plot)])
    out = capsys.readouterr().out
    assert "test accuracy" in out and "samples/s" in out and plot.stat().st_size > 1000


@pytest.mark.parametrize("name", sorted(MAIN_FUNCTIONS))
def test_example_main_runs_and_agrees(name, capsys):
    load(name).main()  # exits non-zero (SystemExit) on a mismatch
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("name", sorted(MAIN_FUNCTIONS))
def test_explain_main_function(name, capsys):
    fn_name, make_args = MAIN_FUNCTIONS[name]
    stages = cupar.explain(getattr(load(name), fn_name), *make_args(), quiet=True)
    assert isinstance(stages, dict)
    assert STAGES <= set(stages)
    assert all(isinstance(text, str) and text for text in stages.values())
    assert capsys.readouterr().out == ""  # quiet means quiet
