"""Training loops: `fit`, `evaluate`, `predict`, and checkpoints (`save`, `load`).

    history = nn.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt, epochs=30,
                     batch_size=32, validation=(x_val, y_val), seed=0)
    history["val_accuracy"][-1]
    nn.evaluate(model, (x_test, y_test))        # {"loss": ..., "accuracy": ...}

Each step of `fit` is one compiled call (`TrainStep`). Mini-batches are drawn from a
permutation per epoch made by `np.random.default_rng(seed)`, so a seed gives the same batches,
the same dropout masks and, at cpu, the same loss curve bit for bit. A loss that is NaN or
infinite stops training with the epoch, step and batch named, the model left as it was
before that step (`on_nonfinite="continue"` skips the step instead).
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
        step: TrainStep | None = None) -> History:
    """Train `model` on `train` = (inputs, targets) for `epochs` passes of shuffled
    mini-batches (the last one smaller when the size does not divide). `progress`: a tqdm
    bar per epoch (None: only when stderr is a terminal). Each callback is called as
    `callback(epoch, logs)` after every epoch, with that epoch's numbers; returning True
    stops training. `scheduler.step()` runs after every epoch."""
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
    if step is None:
        step = DistributedStep(wrapper, loss, optimizer, clip_norm) if wrapper else \
            TrainStep(model, loss, optimizer, clip_norm)
    step.loss.check(x, y)
    if wrapper is not None and dist.rank() != 0:
        progress = False  # one progress bar for the job
    rng = np.random.default_rng(seed)
    history = History()
    model.train()
    for epoch in range(epochs):
        logs = run_epoch(step, x, y, batch_size, rng, epoch, progress, on_nonfinite)
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
              on_nonfinite: str) -> dict:
    order = rng.permutation(len(x))
    ranks = step.world.size if isinstance(step, DistributedStep) else 1
    batch_size *= ranks  # the global batch: each rank trains on its shard
    starts = range(0, len(x), batch_size)
    bar = progress_bar(len(starts), epoch, progress)
    total, correct, seen, start = 0.0, 0, 0, time.perf_counter()
    for k, first in enumerate(starts):
        rows = order[first:first + batch_size]
        if ranks > 1:
            mine = shard_rows(rows)
            loss = step(x[mine], y[mine], len(rows), check_finite=True)
        else:
            loss = step(x[rows], y[rows], check_finite=True)
        if not np.isfinite(loss):
            if on_nonfinite == "stop":
                raise CuparValueError(
                    f"the loss is {loss} at epoch {epoch}, step {k} (batch rows "
                    f"{first}..{first + len(rows) - 1} of this epoch's shuffle); the model "
                    "is as it was before that step", None,
                    "lower the learning rate, clip gradients (clip_norm=...), check the data "
                    "for NaN or inf, or pass on_nonfinite='continue' to skip such steps")
            continue
        total += loss * len(rows)
        seen += len(rows)
        correct += int(step.correct) if step.loss.classification else 0
        if bar is not None:
            bar.update(1)
            if k % 10 == 0 or k == len(starts) - 1:
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False,
                                **({"acc": f"{correct / seen:.3f}"}
                                   if step.loss.classification else {}),
                                samples_s=f"{seen / (time.perf_counter() - start):.0f}")
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    logs = {"loss": total / max(seen, 1), "samples_per_s": seen / elapsed if elapsed else 0.0}
    if step.loss.classification:
        logs["accuracy"] = correct / max(seen, 1)
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
