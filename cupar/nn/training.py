"""Training loops: `fit`, `evaluate`, `predict`, and checkpoints (`save`, `load`).

    history = nn.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=30,
                     batch_size=32, validation=(x_val, y_val), seed=0)
    history["val_accuracy"][-1]
    nn.evaluate(model, (x_test, y_test))        # {"loss": ..., "accuracy": ...}

At cpu, `fit` runs many steps in each compiled call (`TrainStep.run`: the steps' loop is
inside the program, each step gathering its batch's rows itself), the whole epoch by default,
or `steps_per_call` steps (a twentieth of the epoch while a progress bar shows); data-parallel
training, and gpu0, make one call a step, as does a step cut across threads (a recurrent
model's by default: cupar/nn/shards.py; its curve repeats bit for bit at a given thread
count). Mini-batches are drawn from a permutation per epoch
made by `np.random.default_rng(seed)`, so a seed gives the same batches, the same dropout
masks and, at cpu, the same loss curve bit for bit. A loss that is NaN or infinite stops
training with the epoch, step and batch named, the model left as it was before that step
(`on_nonfinite="continue"` skips the step instead). Training runs with subnormal floats
flushed to zero (`cupar.places.cpu.subnormals_flushed`).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import cupar
import cupar.dist as dist
from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparTypeError, CuparValueError

from .compiled import TrainStep
from .criteria import as_loss
from .module import Module, state_mismatches
from .parallel import DataParallel, DistributedStep, shard_rows


class History(dict):
    """Per-epoch lists: loss, accuracy (classification), samples_per_s, lr, and val_loss,
    val_accuracy with validation data."""

    def append(self, **values) -> None:
        for key, value in values.items():
            self.setdefault(key, []).append(value)


def fit(model: Module, train, loss, optimizer, epochs: int = 1, batch_size: int = 32,
        validation=None, seed: int | None = 0, progress: bool | None = None, callbacks=(),
        scheduler=None, clip_norm: float | None = None, on_nonfinite: str = "stop",
        step: TrainStep | None = None, steps_per_call: int | None = None,
        workers: int | None = None) -> History:
    """Train `model` on `train` = (inputs, targets) for `epochs` passes of shuffled
    mini-batches (the last one smaller when the size does not divide). `progress`: a tqdm
    bar per epoch (None: only when stderr is a terminal). Each callback is called as
    `callback(epoch, logs)` after every epoch, with that epoch's numbers; returning True
    stops training. `scheduler.step()` runs after every epoch. `steps_per_call`: how many
    steps one compiled call runs at cpu (see above). `workers`: the threads each step's batch
    is cut across (`TrainStep`'s; None: a recurrent model at cpu uses every core, see
    cupar/nn/shards.py)."""
    where = caller_loc()
    wrapper, model = (model, model.module) if isinstance(model, DataParallel) else \
        (None, model)
    x, y = check_data(train, "train", where)
    if validation is not None:
        validation = check_data(validation, "validation", where)
    if on_nonfinite not in ("stop", "continue"):
        raise CuparValueError(f"on_nonfinite must be 'stop' or 'continue', not {on_nonfinite!r}",
                              where, None)
    if batch_size < 1:
        raise CuparValueError(f"batch_size must be at least 1, not {batch_size}", where, None)
    if steps_per_call is not None and steps_per_call < 1:
        raise CuparValueError(f"steps_per_call must be at least 1, not {steps_per_call}",
                              where, "leave it None for whole epochs per call")
    if step is None:
        step = DistributedStep(wrapper, loss, optimizer, clip_norm) if wrapper else \
            TrainStep(model, loss, optimizer, clip_norm, workers=workers)
    step.loss.check(x, y)
    if wrapper is not None and dist.rank() != 0:
        progress = False  # one progress bar for the job
    rng = np.random.default_rng(seed)
    history = History()
    model.train()
    for epoch in range(epochs):
        logs = run_epoch(step, x, y, batch_size, rng, epoch, progress, on_nonfinite,
                         steps_per_call)
        if validation is not None:
            scores = evaluate(model, validation, loss=step.loss, batch_size=max(batch_size, 256))
            logs.update({f"val_{k}": v for k, v in scores.items()})
            model.train()
        logs["lr"] = optimizer.lr
        history.append(**logs)
        if scheduler is not None:
            scheduler.step()
        if any(callback(epoch, logs) for callback in callbacks):
            break
    return history


def run_epoch(step: TrainStep, x, y, batch_size: int, rng, epoch: int, progress,
              on_nonfinite: str, steps_per_call: int | None = None) -> dict:
    order = rng.permutation(len(x))
    ranks = step.world.size if isinstance(step, DistributedStep) else 1
    batch_size *= ranks  # the global batch: each rank trains on its shard
    batches = -(-len(x) // batch_size)
    bar = progress_bar(batches, epoch, progress)
    tally = Tally(step.loss.classification, bar)
    if ranks > 1:
        run_steps_one_by_one(step, x, y, order, batch_size, ranks, epoch, on_nonfinite, tally)
    else:
        run_steps_together(step, x, y, order, batch_size, batches, epoch, on_nonfinite,
                           tally, steps_per_call or (batches if bar is None else
                                                     -(-batches // 20)))
    if bar is not None:
        bar.close()
    return tally.logs()


def run_steps_together(step: TrainStep, x, y, order, batch_size: int, batches: int,
                       epoch: int, on_nonfinite: str, tally, per_call: int) -> None:
    """The epoch's steps, `per_call` of them in each compiled call (`TrainStep.run`)."""
    for first in range(0, batches, per_call):
        ran = step.run(x, y, order, batch_size, first, first + per_call,
                       skip_nonfinite=on_nonfinite == "continue")
        tally.add(ran.loss_sum, ran.seen, ran.correct, ran.done - first)
        if ran.bad_loss is not None:
            row = ran.done * batch_size
            nonfinite(ran.bad_loss, epoch, ran.done, row, min(row + batch_size, len(x)))


def run_steps_one_by_one(step: TrainStep, x, y, order, batch_size: int, ranks: int,
                         epoch: int, on_nonfinite: str, tally) -> None:
    """The epoch's steps, one compiled call each (data-parallel training)."""
    for k, first in enumerate(range(0, len(x), batch_size)):
        rows = order[first:first + batch_size]
        if ranks > 1:
            mine = shard_rows(rows)
            loss = step(x[mine], y[mine], len(rows), check_finite=True)
        else:
            loss = step(x[rows], y[rows], check_finite=True)
        if not np.isfinite(loss):
            if on_nonfinite == "stop":
                nonfinite(loss, epoch, k, first, first + len(rows))
            continue
        tally.add(loss * len(rows), len(rows),
                  int(step.correct) if step.loss.classification else 0, 1)


def nonfinite(loss: float, epoch: int, k: int, first: int, end: int):
    raise CuparValueError(
        f"the loss is {loss} at epoch {epoch}, step {k} (batch rows {first}..{end - 1} of "
        "this epoch's shuffle); the model is as it was before that step", None,
        "lower the learning rate, clip gradients (clip_norm=...), check the data for NaN or "
        "inf, or pass on_nonfinite='continue' to skip such steps")


class Tally:
    """An epoch's running loss, accuracy and speed, shown on its progress bar."""

    def __init__(self, classification: bool, bar):
        self.classification, self.bar = classification, bar
        self.total, self.correct, self.seen, self.steps = 0.0, 0, 0, 0
        self.start = time.perf_counter()

    def add(self, loss_sum: float, seen: int, correct: int, steps: int) -> None:
        self.total += loss_sum
        self.seen += seen
        self.correct += correct
        if self.bar is None or not steps:
            return
        self.bar.update(steps)
        self.steps += steps
        if self.steps % 10 < steps or self.steps == self.bar.total:
            self.bar.set_postfix(loss=f"{self.total / max(self.seen, 1):.4f}", refresh=False,
                                 **({"acc": f"{self.correct / max(self.seen, 1):.3f}"}
                                    if self.classification else {}),
                                 samples_s=f"{self.seen / self.elapsed():.0f}")

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def logs(self) -> dict:
        elapsed = self.elapsed()
        logs = {"loss": self.total / max(self.seen, 1),
                "samples_per_s": self.seen / elapsed if elapsed else 0.0}
        if self.classification:
            logs["accuracy"] = self.correct / max(self.seen, 1)
        return logs


def progress_bar(total: int, epoch: int, progress):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=f"epoch {epoch + 1}", unit="batch", leave=False)


def check_data(data, what: str, where):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise CuparTypeError(f"{what} data must be a pair (inputs, targets)", where,
                             f"pass {what}=(x, y) with one target per row of x")
    x, y = data
    if len(x) != len(y):
        raise CuparValueError(f"{what} data has {len(x)} inputs but {len(y)} targets", where,
                              "pass one target per input row")
    return x, y


def predict(model: Module, x, batch_size: int | None = None) -> np.ndarray:
    """The model's outputs for `x` in eval mode, as a host array (batches of `batch_size`
    rows, all at once by default). The model's mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        if batch_size is None or len(x) <= batch_size:
            return np.asarray(cupar.places.to_host(model(x)))
        parts = [np.asarray(cupar.places.to_host(model(x[k:k + batch_size])))
                 for k in range(0, len(x), batch_size)]
        return np.concatenate(parts)
    finally:
        model.train(was_training)


def evaluate(model: Module, data, loss="cross_entropy", batch_size: int | None = None) -> dict:
    """{"loss": mean loss, "accuracy": ...} of the model on (x, y) in eval mode (accuracy
    for classification losses: the fraction of rows whose largest output is the label)."""
    x, y = check_data(data, "evaluation", caller_loc())
    criterion = as_loss(loss)
    out = predict(model, x, batch_size)
    result = {"loss": float(criterion(out, np.asarray(y)))}
    if criterion.classification:
        result["accuracy"] = float(np.mean(np.argmax(out, axis=1) == np.asarray(y)))
    return result


# -- checkpoints ------------------------------------------------------------------------------

ARCHITECTURE = "__cupar_architecture__"


def save(model: Module, path) -> None:
    """Every parameter and buffer of `model` to an .npz file (host copies), with a
    description of its architecture that `load` compares. In a data-parallel job only
    rank 0 writes (the others wait for it), as every rank holds the same parameters."""
    model = model.module if isinstance(model, DataParallel) else model
    world = dist.existing_world()
    if world is None or world.rank == 0:
        state = model.state_dict()
        np.savez(path, **state, **{ARCHITECTURE: np.array(repr(model))})
    if world is not None:
        world.barrier()


def load(model: Module, path) -> Module:
    """Load a checkpoint written by `save` into `model`. A file whose names, shapes or
    dtypes do not fit the model is refused with what differs, and nothing is changed."""
    where = caller_loc()
    model = model.module if isinstance(model, DataParallel) else model
    try:
        with np.load(path, allow_pickle=False) as stored:
            state = {k: stored[k] for k in stored.files if k != ARCHITECTURE}
            saved = str(stored[ARCHITECTURE]) if ARCHITECTURE in stored.files else None
    except (OSError, ValueError) as exc:
        raise CuparValueError(f"cannot read checkpoint {str(path)!r}: {exc}", where,
                              "pass a file written by cupar.nn.save") from None
    own = dict(model.named_parameters() + model.named_buffers())
    problems = state_mismatches(own, state)
    if problems:
        described = f"\nthe file holds:\n{saved}\nthe model is:\n{model!r}" if saved else ""
        raise CuparValueError(f"checkpoint {str(path)!r} does not fit this model: "
                              + "; ".join(problems[:6])
                              + (f" (and {len(problems) - 6} more)" if len(problems) > 6
                                 else "") + described, where,
                              "build the same architecture the checkpoint was saved from")
    model.load_state_dict(state)
    return model
