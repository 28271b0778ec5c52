"""Many training steps as ONE compiled call: `TrainStep.run`, which `fit` uses.

At the digits MLP's batch of 32 a step's program runs in about 30 us, and calling it from
Python (checking and passing 20 arguments, taking the batch's rows, storing the new
parameters) costs a third as much again. `run` takes the whole data set and a permutation
of its rows, and runs steps start .. stop - 1 as a loop inside one program: step k gathers
rows order[k b : (k + 1) b] and trains on them, the parameters, optimizer states and
buffers carried from step to step as the loop's state. The generated program, for a model
with parameters p_0_weight, ... (the step's lines are TrainStep's):

    @parallel
    def steps(p_0_weight, ..., x, y, order, batch, start, stop, seed, skip, lr_steps, ...):
        def loop(k, p_0_weight, ..., applied, loss_sum, correct_sum, seen):
            if k == stop:
                return (k, p_0_weight, ..., applied, loss_sum, correct_sum, seen, 0.0)
            else:
                first_row = k * batch
                rows = min(batch, len(order) - first_row)
                batch_x = map(lambda j: x[order[first_row + j]], range(rows))
                ...                                 # the step, on batch_x and batch_y
                if loss - loss == 0.0:              # finite
                    return loop(k + 1, new parameters..., applied + 1, ...)
                elif skip:                          # on_nonfinite="continue"
                    return loop(k + 1, p_0_weight, ..., applied, ...)
                else:                               # stop before this step
                    return (k, p_0_weight, ..., applied, ..., float64(loss))
        return loop(start, p_0_weight, ..., 0, 0.0, 0, 0)

The optimizer's scalars that change between steps (`Optimizer.per_step`: the learning
rate, SGD's first-step flag, Adam's bias corrections) are arrays with one entry per applied
step, computed in Python as the step-by-step calls would; the others stay scalars. Step t
of a run uses seed `step_count + t`, as the t-th separate call would, so a run gives the
separate calls' results (bit for bit at cpu with SGD; with Adam and AdamW, whose per-step
scalars are then rounded to the parameters' dtype before use, to within rounding).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import cupar
from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparValueError

from .codegen import image_shape

STATE = ("applied", "loss_sum", "correct_sum", "seen")


class Ran(NamedTuple):
    """What `TrainStep.run` did: `done` is the first step not taken (stop, or the step
    whose loss was not finite), `loss_sum` the sum of the applied steps' losses each times
    its rows, `correct` and `seen` their correct rows and rows, `applied` the steps applied,
    `bad_loss` the non-finite loss it stopped at (None if it did not stop)."""
    done: int
    applied: int
    loss_sum: float
    correct: int
    seen: int
    bad_loss: float | None


def steps_source(step, rank: int, shape: tuple | None) -> str:
    """The program of `TrainStep.run` for `step` (see the module's docstring)."""
    objective, g, states, outs = step.step_body(
        rank, shape, ("batch_x", "batch_y", "seed + applied"))
    carried = list(g.params.values()) + list(states.values()) + list(g.buffers.values())
    opt = step.optimizer
    hyper = [f"{h}_steps" if h in opt.per_step else h for h in opt.hyper()]
    args = carried + ["x", "y", "order", "batch", "start", "stop", "seed", "skip"] + \
        hyper + ["clip_norm"]
    state = ", ".join(["k", *carried, *STATE])
    new = ", ".join([*outs[2:], "applied + 1", "loss_sum + float64(loss) * float64(rows)",
                     f"correct_sum + {outs[1]}", "seen + rows"])
    inner = "            "
    lines = [
        f"def steps({', '.join(args)}):",
        f"    def loop({state}):",
        "        if k == stop:",
        f"            return ({state}, 0.0)",
        "        else:",
        f"{inner}first_row = k * batch",
        f"{inner}rows = min(batch, len(order) - first_row)",
        f"{inner}batch_x = map(lambda j: x[order[first_row + j]], range(rows))",
        f"{inner}batch_y = map(lambda j: y[order[first_row + j]], range(rows))",
        *[f"{inner}{h} = {h}_steps[applied]" for h in opt.hyper() if h in opt.per_step],
        *[" " * 8 + line for line in g.lines],
        f"{inner}loss = {outs[0]}",
        f"{inner}if loss - loss == 0.0:",
        f"{inner}    return loop(k + 1, {new})",
        f"{inner}elif skip:",
        f"{inner}    return loop(k + 1, {', '.join([*carried, *STATE])})",
        f"{inner}else:",
        f"{inner}    return ({state}, float64(loss))",
        f"    return loop(start, {', '.join(carried)}, 0, 0.0, 0, 0)"]
    return "\n".join(["@parallel", *objective, "", step.gradient_line(), "",
                      "@parallel", *lines]) + "\n"


def per_step_arguments(step, count: int) -> list:
    """The optimizer's scalars for `count` steps from its current step: arrays (in the
    parameters' float dtype, or bool) for its `per_step` names, scalars for the others."""
    opt = step.optimizer
    base = opt.step_count
    try:
        values = []
        for t in range(count):
            opt.step_count = base + t
            values.append(opt.hyper())
    finally:
        opt.step_count = base
    first = values[0] if values else opt.hyper()
    dtype = np.result_type(*(np.dtype(p.dtype) for p in opt.params))
    result = []
    for name, value in first.items():
        if name not in opt.per_step:
            result.append(value)
            continue
        kind = np.bool_ if isinstance(value, (bool, np.bool_)) else dtype
        result.append(np.array([v[name] for v in values], kind))
    return result


def run_steps(step, x, y, order, batch_size: int, start: int, stop: int | None,
              skip_nonfinite: bool) -> Ran:
    """`TrainStep.run` (see there)."""
    order = np.asarray(order, np.int64)
    if batch_size < 1:
        raise CuparValueError(f"batch_size must be at least 1, not {batch_size}", caller_loc(),
                              None)
    batches = -(-len(order) // batch_size)
    stop = batches if stop is None else min(stop, batches)
    if not 0 <= start <= stop:
        raise CuparValueError(f"steps {start} .. {stop} are not steps of {batches} batches",
                              caller_loc(), "pass 0 <= start <= stop")
    step.check(x, y)
    if step.model.place is not cupar.places.cpu or step.sharding():  # (shards.py)
        return one_by_one(step, x, y, order, batch_size, start, stop, skip_nonfinite)
    key = ("run", np.ndim(x), image_shape(x))
    if key not in step.functions:
        step.functions[key] = step.compile(steps_source(step, *key[1:]), "steps")["steps"]
    n = len(step.names)
    arrays = [table[key] for table, key in step.slots]
    args = (*arrays[:n], *step.states.values(), *arrays[n:], x, y, order, batch_size, start,
            stop, step.optimizer.step_count, bool(skip_nonfinite),
            *per_step_arguments(step, stop - start), float(step.clip_norm or 0.0))
    place = run_place(step, x, batch_size)
    with cupar.places.cpu.subnormals_flushed(workers=place is not cupar.places.cpu_serial):
        done, *rest = step.call_program(step.functions[key], args, place)
    carried, (applied, loss_sum, correct, seen, bad) = rest[:-5], rest[-5:]
    step.adopt(carried, int(applied))
    return Ran(int(done), int(applied), float(loss_sum), int(correct), int(seen),
               float(bad) if done < stop else None)


def run_place(step, x, batch_size: int):
    """cpu_serial when a step's arrays (its batch, each parameter) are small, as cpu runs a
    small call (the data set is a large argument, but each step reads a batch of it);
    else cpu."""
    small = step.small(batch_size * int(np.prod(np.shape(x)[1:])))
    return cupar.places.cpu_serial if small else cupar.places.cpu


def one_by_one(step, x, y, order, batch_size: int, start: int, stop: int,
               skip_nonfinite: bool) -> Ran:
    """`run` as one call per step (gpu0; a step across threads, cupar/nn/shards.py)."""
    applied, loss_sum, correct, seen = 0, 0.0, 0, 0
    for k in range(start, stop):
        rows = order[k * batch_size:(k + 1) * batch_size]
        loss = step(x[rows], y[rows], check_finite=True)
        if not np.isfinite(loss):
            if skip_nonfinite:
                continue
            return Ran(k, applied, loss_sum, correct, seen, float(loss))
        applied, loss_sum, seen = applied + 1, loss_sum + loss * len(rows), seen + len(rows)
        correct += int(step.correct) if step.loss.classification else 0
    return Ran(stop, applied, loss_sum, correct, seen, None)
