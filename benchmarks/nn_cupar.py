"""cupar.nn's trainers for benchmarks/nn.py, with nn_models' interface: `train_epoch(x, y,
batch_size, rng)` (the mean loss) and `accuracy(x, y)`. The same models and schedules as
the NumPy and PyTorch trainers. TRAINERS train as `nn.fit` does, a whole epoch in one
compiled call (`TrainStep.run`); STEP_TRAINERS make one compiled call per step
(`TrainStep`), as a hand-written loop over batches would."""

from __future__ import annotations

import numpy as np

import cupar
from cupar import nn
from cupar.nn import optim

CLASSES = 10


class CuparTrainer:
    def __init__(self, data, seed: int, place=cupar.places.cpu):
        nn.manual_seed(seed)
        self.model = self.build().to(place)
        self.step = nn.TrainStep(self.model, nn.CrossEntropyLoss(),
                                 self.optimizer(self.model.parameters()))
        x = data[0] if isinstance(data, tuple) else data()[0]
        y = data[1] if isinstance(data, tuple) else data()[1]
        self.warm_up(x, y)  # compile (or load from the cache) before timing

    def warm_up(self, x, y) -> None:
        self.step.run(x, y, np.arange(2), 2)

    def train_epoch(self, x, y, batch_size: int, rng) -> float:
        ran = self.step.run(x, y, rng.permutation(len(x)), batch_size)
        return ran.loss_sum / max(ran.seen, 1)

    def accuracy(self, x, y) -> float:
        return nn.evaluate(self.model, (x, y), batch_size=1000)["accuracy"]


class StepCalls:
    """A trainer making one compiled call per step."""

    def warm_up(self, x, y) -> None:
        self.step(x[:2], y[:2])

    def train_epoch(self, x, y, batch_size: int, rng) -> float:
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(x), batch_size):
            rows = order[i:i + batch_size]
            total += self.step(x[rows], y[rows]) * len(rows)
        return total / len(x)


class CuparMLP(CuparTrainer):
    def build(self):
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, CLASSES))

    def optimizer(self, params):
        return optim.SGD(params, lr=0.05, momentum=0.9)


class CuparCNN(CuparTrainer):
    def build(self):
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, CLASSES))

    def optimizer(self, params):
        return optim.SGD(params, lr=0.05, momentum=0.9)


class CuparGRU(CuparTrainer):
    cell = "GRU"

    def build(self):
        return nn.Sequential(getattr(nn, self.cell)(1, 64), nn.Linear(64, CLASSES))

    def optimizer(self, params):
        return optim.Adam(params, lr=3e-3)


class CuparLSTM(CuparGRU):
    cell = "LSTM"


TRAINERS = {"mlp": CuparMLP, "cnn": CuparCNN, "gru": CuparGRU, "lstm": CuparLSTM}
STEP_TRAINERS = {name: type(f"{cls.__name__}Steps", (StepCalls, cls), {})
                 for name, cls in TRAINERS.items()}
