"""Data sets and baseline trainers for the neural-network training benchmark (benchmarks/nn.py).

Data, all in memory, float32 inputs and int64 labels:

* `digits()`: scikit-learn's 8x8 digits (1797 images), pixels / 16 into [0, 1], a stratified
  shuffled 80/20 split (random_state=0): 1437 to train on, 360 to test. `digits_images()`:
  the same as (N, 1, 8, 8) images.
* `mnist1d()`: the mnist1d package's data set (4000 + 1000 sequences of 40 values), generated
  here by `make_dataset(get_dataset_args())` (never downloaded); `mnist1d_sequences()`: the
  same as (N, 40, 1) sequences for the recurrent models.

Trainers: `Trainer(data, seed)`; `train_epoch(x, y, batch_size, rng)` shuffles with `rng` (a
NumPy Generator, so that every implementation sees the same batches), takes one optimiser step
per batch (the last one may be short) and returns the mean loss; `accuracy(x, y)` on the test
set. `NumpyMLP` is forward and backward by hand; the Torch* trainers are PyTorch on the CPU
(`torch_or_reason()` says why there are none).
"""

from __future__ import annotations

import functools
import os

import numpy as np

F32 = np.float32
CLASSES = 10


# -- data -----------------------------------------------------------------------------------

def digits():
    """(x_train, y_train, x_test, y_test): float32 (N, 64) in [0, 1] and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x, y = (d.data / 16.0).astype(F32), d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    return (np.ascontiguousarray(x_tr), y_tr, np.ascontiguousarray(x_te), y_te)


def digits_images():
    """`digits()` with the inputs as (N, 1, 8, 8) images."""
    x_tr, y_tr, x_te, y_te = digits()
    return x_tr.reshape(-1, 1, 8, 8), y_tr, x_te.reshape(-1, 1, 8, 8), y_te


def mnist1d():
    """(x_train, y_train, x_test, y_test): float32 (N, 40), int64 labels; 4000 + 1000. Made
    offline from the package's templates with its default arguments (seed 42); NumPy's and
    `random`'s global states, which it reseeds, are put back afterwards."""
    import random

    from mnist1d.data import get_dataset_args, make_dataset
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return (d["x"].astype(F32), d["y"].astype(np.int64),
            d["x_test"].astype(F32), d["y_test"].astype(np.int64))


def mnist1d_sequences():
    """`mnist1d()` with the inputs as (N, 40, 1) sequences of one feature."""
    x_tr, y_tr, x_te, y_te = mnist1d()
    return x_tr[:, :, None], y_tr, x_te[:, :, None], y_te


# -- NumPy: a 64-128-10 MLP by hand ---------------------------------------------------------

class _Steps:
    """The activations and gradients of one batch size, allocated once. `h` has a last
    column of ones (the next layer's bias input), which the ReLU never writes."""

    def __init__(self, batch: int, hidden: int):
        self.pre, self.dh = np.empty((batch, hidden), F32), np.empty((batch, hidden), F32)
        self.h, self.mask = np.ones((batch, hidden + 1), F32), np.empty((batch, hidden), bool)
        self.logits, self.p = np.empty((batch, CLASSES), F32), np.empty((batch, CLASSES), F32)
        self.m, self.z = np.empty((batch, 1), F32), np.empty((batch, 1), F32)


class NumpyMLP:
    """Linear(64, 128) -> ReLU -> Linear(128, 10), softmax cross-entropy, SGD with momentum
    0.9 and lr 0.1, forward and backward by hand, float32, initialised as torch's nn.Linear
    (uniform in +-1/sqrt(fan_in)). Made as fast as NumPy allows at small batches, where the
    cost is NumPy's per-call overhead more than arithmetic:

    * each layer's bias is its weight matrix's last row, fed by a column of ones appended to
      the inputs (once per epoch) and to the hidden activations (once per batch size): the
      bias additions and the bias gradients' sums happen inside the matrix products;
    * parameters, gradients and velocities each live in one flat array (the layers are views
      of it), so that torch's update v <- 0.9 v + g, w <- w - lr v is three NumPy calls (lr
      is folded into v: the same iterates);
    * the loss's gradient is scaled by lr / batch at the output, so the backward pass yields
      lr-scaled gradients with no further pass; every buffer is written with `out=`.
    """

    label = "numpy"

    def __init__(self, data=None, seed: int = 0, d_in: int = 64, hidden: int = 128,
                 lr: float = 0.1, momentum: float = 0.9):
        rng = np.random.default_rng(seed)
        shapes = [(d_in + 1, hidden), (hidden + 1, CLASSES)]
        size = sum(r * c for r, c in shapes)
        self.params, self.grads, self.velocity = (np.zeros(size, F32) for _ in range(3))
        split = shapes[0][0] * shapes[0][1]
        self.w1, self.w2 = self.params[:split].reshape(shapes[0]), \
            self.params[split:].reshape(shapes[1])
        self.dw1, self.dw2 = self.grads[:split].reshape(shapes[0]), \
            self.grads[split:].reshape(shapes[1])
        for w, fan_in in ((self.w1, d_in), (self.w2, hidden)):
            bound = 1 / np.sqrt(fan_in)
            w[...] = rng.uniform(-bound, bound, w.shape)
        self.w2_no_bias_t = self.w2[:hidden].T
        self.lr, self.momentum, self.d_in, self.hidden = F32(lr), F32(momentum), d_in, hidden
        self.eye, self.steps = np.eye(CLASSES, dtype=F32), {}

    def with_ones(self, x, order=None):
        """x (or x[order]) with a column of ones appended: the first layer's input."""
        out = np.ones((len(x), self.d_in + 1), F32)
        out[:, :-1] = x if order is None else x[order]
        return out

    def batch_steps(self, n: int) -> _Steps:
        s = self.steps.get(n)
        if s is None:
            s = self.steps[n] = _Steps(n, self.hidden)
        return s

    def forward(self, x1, s: _Steps):
        """Logits of inputs with their column of ones, into s.logits."""
        np.matmul(x1, self.w1, out=s.pre)
        np.maximum(s.pre, F32(0), out=s.h[:, :-1])
        return np.matmul(s.h, self.w2, out=s.logits)

    def step(self, x1, onehot) -> float:
        """One SGD step on a batch (inputs with their column of ones, one-hot labels);
        returns the batch's summed loss."""
        n = len(x1)
        s = self.batch_steps(n)
        logits = self.forward(x1, s)
        np.max(logits, axis=1, keepdims=True, out=s.m)
        logits -= s.m  # shifted logits: loss_i = log(sum exp) - shifted[i, label_i]
        np.exp(logits, out=s.p)
        np.sum(s.p, axis=1, keepdims=True, out=s.z)
        s.p /= s.z
        loss = float(np.log(s.z, out=s.z).sum()) - float(np.vdot(logits, onehot))
        s.p -= onehot
        s.p *= self.lr / F32(n)  # d(mean loss)/d logits, times lr
        np.matmul(s.h.T, s.p, out=self.dw2)
        np.matmul(s.p, self.w2_no_bias_t, out=s.dh)
        np.greater(s.pre, F32(0), out=s.mask)
        s.dh *= s.mask
        np.matmul(x1.T, s.dh, out=self.dw1)
        self.velocity *= self.momentum
        self.velocity += self.grads
        self.params -= self.velocity
        return loss

    def train_epoch(self, x, y, batch_size: int, rng) -> float:
        order = rng.permutation(len(x))
        x1, onehot = self.with_ones(x, order), self.eye[y[order]]
        total = 0.0
        for i in range(0, len(x), batch_size):
            total += self.step(x1[i:i + batch_size], onehot[i:i + batch_size])
        return total / len(x)

    def predict(self, x):
        return self.forward(self.with_ones(x), _Steps(len(x), self.hidden)).argmax(axis=1)

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == y))


# -- PyTorch on the CPU ---------------------------------------------------------------------

@functools.cache
def flushing_subnormals(trainer, library: str):
    """`trainer`'s class, training with subnormal floats flushed to zero on this thread:
    cupar's context (the x86 FTZ and DAZ bits) around NumPy, torch's own switch for torch."""
    class Flushed(trainer):
        def train_epoch(self, *args):
            if library == "torch":
                self.torch.set_flush_denormal(True)
                try:
                    return super().train_epoch(*args)
                finally:
                    self.torch.set_flush_denormal(False)
            import cupar
            with cupar.places.cpu.subnormals_flushed():
                return super().train_epoch(*args)
    Flushed.__name__ = f"{trainer.__name__}Flushed"
    return Flushed


def torch_or_reason():
    """The torch module, its intra-op threads set to the core count (the first time only: a
    caller may set another count afterwards); or why there is none, a str."""
    try:
        import torch
    except ImportError as exc:
        return f"PyTorch is not importable ({exc})"
    torch.set_num_threads(os.cpu_count() or 1)
    return torch


class _TorchTrainer:
    """A torch module trained with softmax cross-entropy: zero_grad, forward, backward, step
    per batch, as a PyTorch user writes it; the epoch's data is permuted once up front (as
    NumpyMLP does)."""

    label = "torch"

    def __init__(self, data=None, seed: int = 0):
        torch = torch_or_reason()
        if isinstance(torch, str):
            raise RuntimeError(torch)
        self.torch = torch
        torch.manual_seed(seed)
        self.model = self.build(torch.nn)
        self.optimizer = self.optimizer_for(torch.optim, self.model.parameters())
        self.loss = torch.nn.CrossEntropyLoss()

    def train_epoch(self, x, y, batch_size: int, rng) -> float:
        torch = self.torch
        order = torch.from_numpy(rng.permutation(len(x)))
        xs, ys = torch.from_numpy(x)[order], torch.from_numpy(y)[order]
        self.model.train()
        total = 0.0
        for i in range(0, len(x), batch_size):
            xb, yb = xs[i:i + batch_size], ys[i:i + batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(xb)
        return total / len(x)

    def accuracy(self, x, y) -> float:
        self.model.eval()
        with self.torch.no_grad():
            predicted = self.model(self.torch.from_numpy(x)).argmax(dim=1).numpy()
        return float(np.mean(predicted == y))


class TorchMLP(_TorchTrainer):
    """nn.Linear(64, 128) -> ReLU -> nn.Linear(128, 10); SGD lr 0.1, momentum 0.9."""

    def build(self, nn):
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, CLASSES))

    def optimizer_for(self, optim, params):
        return optim.SGD(params, lr=0.1, momentum=0.9)


class TorchCNN(_TorchTrainer):
    """Two 3x3 convolutions (16, 32 channels, padding 1) with ReLUs, 2x2 max-pooling, then
    Linear(512, 64) -> ReLU -> Linear(64, 10), on (N, 1, 8, 8) digits; SGD lr 0.05,
    momentum 0.9."""

    def build(self, nn):
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
            nn.Linear(64, CLASSES))

    def optimizer_for(self, optim, params):
        return optim.SGD(params, lr=0.05, momentum=0.9)


class _TorchRecurrent(_TorchTrainer):
    """A one-layer recurrent network (`cell`, hidden 64) over (N, T, 1) sequences whose last
    hidden state goes through Linear(64, 10); Adam, lr 3e-3."""

    def build(self, nn):
        cell = getattr(nn, self.cell)

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = cell(input_size=1, hidden_size=64, num_layers=1, batch_first=True)
                self.head = nn.Linear(64, CLASSES)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])
        return Classifier()

    def optimizer_for(self, optim, params):
        return optim.Adam(params, lr=3e-3)


class TorchGRU(_TorchRecurrent):
    """nn.GRU(1, 64, batch_first=True), last hidden state -> Linear(64, 10); Adam lr 3e-3."""

    cell = "GRU"


class TorchLSTM(_TorchRecurrent):
    """nn.LSTM(1, 64, batch_first=True), last hidden state -> Linear(64, 10); Adam lr
    3e-3."""

    cell = "LSTM"


def train(trainer, data, batch_size: int, epochs: int, seed: int = 0, log=None) -> float:
    """Train for `epochs` epochs; the test accuracy after them."""
    x_tr, y_tr, x_te, y_te = data
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        loss = trainer.train_epoch(x_tr, y_tr, batch_size, rng)
        if log:
            log(f"    epoch {epoch + 1}: loss {loss:.4f}")
    return trainer.accuracy(x_te, y_te)
