"""A model's generated programs: its forward pass, and `TrainStep`, one training step
(forward, loss, gradients, optimizer update) as ONE compiled cupar call.

    step = nn.TrainStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), 0.1,
                                                                momentum=0.9))
    loss = step(x, y)             # one call; the model's parameters are replaced by new ones
    ran = step.run(x, y, order, 32)   # an epoch's steps as ONE call (cupar/nn/steps.py)
    cupar.explain(step.function_for(x), *step.arguments(x, y))   # the whole step

The generated step, for a model with parameters p_0_weight, ... and SGD with momentum:

    @parallel
    def objective(p_0_weight, ..., x, y, seed):
        h1 = F.linear(x, p_0_weight, p_0_bias)
        ...
        return F.cross_entropy(h3, y, 0.0), (correct(h3, y),)
    gradient = value_and_grad(objective, (0, 1, 2, 3), has_aux=True)

    @parallel
    def step(p_0_weight, ..., s_0_weight_momentum_buffer, ..., x, y, seed, lr, momentum, ...):
        value, grads = gradient(p_0_weight, ..., x, y, seed)
        ...                                   # one map per parameter: optim.sgd_param
        return loss, correct, new parameters..., new states..., new buffers...
"""

from __future__ import annotations

import numpy as np

import cupar
from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparError, CuparIndexError, CuparTypeError, CuparValueError

from . import optim
from .codegen import Emitter, compile_source, forward_source, image_shape
from .criteria import as_loss
from .shards import Shards, eligible
from .steps import Ran, run_steps

# elements: a step whose batch and parameters are all smaller runs without parallel loops (as
# cupar.places.cpu runs calls whose arguments are all smaller)
SMALL = 1 << 16


def forward_function(model, training: bool):
    """The compiled forward of `model` in train or eval mode: a function (x, where) -> out."""
    def run(x, where):
        key = ("forward", training, structure(model), np.ndim(x), image_shape(x))
        cached = model._compiled.get(key)
        if cached is None:
            source, g = forward_source(model, training, np.ndim(x), image_shape(x))
            source = "@parallel\n" + source
            fn = compile_source(source, f"{type(model).__name__} forward", {})["forward"]
            cached = model._compiled[key] = (fn, bool(training and g.buffers))
        fn, updates = cached
        check_place(model, x)
        params = [v for _, v in model.named_parameters()]
        buffers = [v for _, v in model.named_buffers()]
        seed = next_seed(model)
        # (Numba's threads flushed too only for a call large enough to use them)
        with cupar.places.cpu.subnormals_flushed(workers=not small_arrays([x, *params])):
            result = fn(*params, *buffers, x, seed, target_place=model.place)
        if updates:
            result, news = result
            for (name, _), new in zip(model.named_buffers(), news):
                model._assign(name, new)
        return result
    return run


def structure(model) -> tuple:
    """What the generated source depends on: the modules' kinds, options and names."""
    return tuple((name, type(m).__name__, m.extra_repr()) for name, m in model.named_modules())


def next_seed(model) -> int:
    seed = model.__dict__.get("_seed", 0)
    object.__setattr__(model, "_seed", seed + 1)
    return seed


def check_place(model, x, arrays=None) -> None:
    """The input and every parameter and buffer (`arrays`: (name, value) pairs, default
    the model's) must be where the model is: host arrays at cpu and here, device arrays
    at gpu0. (The error's location is read only when there is an error: it costs.)"""
    at_gpu = isinstance(model.place, type(cupar.places.gpu0))
    if not isinstance(x, (np.ndarray, list, tuple)) and hasattr(x, "copy_to_host") and \
            not at_gpu:
        raise CuparValueError(f"the input is in GPU memory but the model is at {model.place!r}",
                              caller_loc(), "call model.to(cupar.places.gpu0), or pass a "
                              "NumPy array")
    for name, value in arrays or model.named_parameters() + model.named_buffers():
        device = not isinstance(value, np.ndarray)  # a DeviceArray (the simulator's too)
        if device != at_gpu:
            raise CuparValueError(
                f"`{name}` is {'in GPU memory' if device else 'a host array'}, but the model "
                f"is at {model.place!r}", caller_loc(),
                "move the whole model with model.to(place) instead of single arrays")


class TrainStep:
    """One training step of `model` with `loss` and `optimizer`, compiled as one program.

    `step(x, y)` runs forward, loss, backward and the update, replaces the model's
    parameters (and batch norm's running statistics) with their new values, and returns the
    loss as a Python float (`step(x, y, sync=False)` returns it as a 0-d array, on the device
    at gpu0, so that nothing waits for the GPU). `step.correct` is the number of rows of the
    last batch whose label's score was the largest (classification losses only).
    `clip_norm` scales the gradients so their global L2 norm is at most that."""

    def __init__(self, model, loss, optimizer: optim.Optimizer, clip_norm: float | None = None,
                 workers: int | None = None):
        self.model, self.loss, self.optimizer = model, as_loss(loss), optimizer
        if clip_norm is not None:
            optim.check_positive("clip_norm", clip_norm)
        self.clip_norm = clip_norm
        self.names = [n for n, _ in model.named_parameters()]
        self.slots = model.slots()  # (table, key) of each parameter, then each buffer
        owned = {id(v): n for n, v in model.named_parameters()}
        if any(id(p) not in owned for p in optimizer.params):
            raise CuparValueError("the optimizer holds arrays that are not this model's "
                                  "parameters", caller_loc(),
                                  "build it from model.parameters() of the model you train")
        self.states = {(n, s): zeros_like(v, model)
                       for n, v in model.named_parameters() for s in optimizer.state_names}
        self.functions, self.correct = {}, None
        self.warm = None  # (rank, image shape, the step specialised for the last types)
        self.small_params = None
        self.shards = self.sharded(workers)

    def sharded(self, workers: int | None):
        """The Shards cutting each step's batch across `workers` threads
        (cupar/nn/shards.py; None: a recurrent model's across Numba's threads), or None."""
        if workers is None:
            return Shards(self, None) if eligible(self.model) else None
        if not isinstance(workers, (int, np.integer)) or workers < 1:
            raise CuparValueError(f"workers must be a positive int or None, not {workers!r}",
                                  caller_loc(), "1 runs each step on one thread; None "
                                  "chooses (a recurrent model: every core)")
        if workers == 1:
            return None
        if self.model.place is not cupar.places.cpu:
            raise CuparValueError(f"workers={workers} shards steps across cpu threads, but "
                                  f"the model is at {self.model.place.name}", caller_loc(),
                                  "leave workers at 1 (or None) for a model on a GPU")
        return Shards(self, int(workers))

    def sharding(self) -> bool:
        """Whether steps run across threads now (Numba's thread count can change)."""
        return self.shards is not None and self.shards.threads() > 1

    def function_for(self, x):
        """The compiled step for inputs of x's number of dimensions (and, for images, of
        x's channels, height and width: generated once each)."""
        key = (np.ndim(x), image_shape(x))
        if key not in self.functions:
            self.functions[key] = self.generate(*key)
        return self.functions[key]

    def generate(self, rank: int, shape: tuple | None = None):
        objective, g, states, outs = self.step_body(rank, shape)
        step_args = list(g.params.values()) + list(states.values()) + \
            list(g.buffers.values()) + ["x", "y", "seed"] + list(self.optimizer.hyper()) + \
            ["clip_norm"]
        step = [f"def step({', '.join(step_args)}):", *g.lines,
                f"    return {', '.join(outs)}"]
        source = "\n".join(["@parallel", *objective, "", self.gradient_line(), "",
                            "@parallel", *step]) + "\n"
        self.source = source
        return self.compile(source, "step")["step"]

    def gradient_and_update(self, rank: int, shape: tuple | None = None):
        """The step as two programs: `gradients` (the loss, the correct rows, the gradients
        and the new buffers, one flat tuple) and `update` (the optimizer's, returning the
        new parameters and states): for data-parallel steps, whose gradients are summed
        between the two (across processes, `nn.DataParallel`; across threads, `Shards`)."""
        objective, args = self.objective_lines(rank, shape)
        buffers = [n for n, _ in self.model.named_buffers()]
        g = Emitter(self.names, buffers, True, rank)
        g.lines.append(f"    value, grads = gradient({', '.join(args)})")
        outs = [g.let("value[0]")]
        aux = g.let("value[1]")
        outs += [f"{aux}[0]"] + [g.let(f"grads[{k}]") for k in range(len(self.names))]
        outs += [g.let(f"{aux}[{k + 1}]") for k in range(len(buffers))]
        gradients = [f"def gradients({', '.join(args)}):", *g.lines,
                     f"    return {', '.join(outs)}"]
        u = Emitter(self.names, buffers, True, rank)
        states = self.state_variables(u)
        grads = [f"g_{name[2:]}" for name in u.params.values()]
        update_args = list(u.params.values()) + list(states.values()) + grads + \
            list(self.optimizer.hyper()) + ["clip_norm"]
        new_params, new_states = self.emit_update(u, grads, states)
        update = [f"def update({', '.join(update_args)}):", *u.lines,
                  f"    return {', '.join(new_params + new_states)}"]
        source = "\n".join(["@parallel", *objective, "", self.gradient_line(), "",
                            "@parallel", *gradients, "", "@parallel", *update]) + "\n"
        self.source = source
        made = self.compile(source, "data-parallel step")
        return made["gradients"], made["update"]

    def step_body(self, rank: int, shape: tuple | None, batch=("x", "y", "seed")):
        """The objective's source lines, and an Emitter holding the lines of one step on
        the batch whose inputs, labels and seed are named `batch`: the gradient, then the
        update. Also the optimizer states' variables, and the step's results: the loss,
        the correct count, the new parameters, new states and new buffers."""
        objective, args = self.objective_lines(rank, shape)
        g = Emitter(self.names, [n for n, _ in self.model.named_buffers()], True, rank)
        states = self.state_variables(g)
        g.lines.append(f"    value, grads = gradient({', '.join(args[:-3] + list(batch))})")
        grads = [g.let(f"grads[{k}]") for k in range(len(self.names))]
        new_params, new_states = self.emit_update(g, grads, states)
        loss = g.let("value[0]")
        aux = g.let("value[1]")
        news = [g.let(f"{aux}[{k + 1}]") for k in range(len(g.buffers))]
        return objective, g, states, [loss, f"{aux}[0]"] + new_params + new_states + news

    def objective_lines(self, rank: int, shape: tuple | None) -> tuple[list[str], list[str]]:
        """The source of `objective(params..., buffers..., x, y, seed)`, returning (loss,
        (correct, new buffers...)), and its argument names."""
        model = self.model
        fwd = Emitter(self.names, [n for n, _ in model.named_buffers()], True, rank, shape)
        out = model.emit(fwd, "x")
        aux = [self.loss.correct(out, "y")] if self.loss.classification else ["0"]
        aux += [fwd.updates.get(n, var) for n, var in fwd.buffers.items()]
        args = fwd.signature() + ["x", "y", "seed"]
        return [f"def objective({', '.join(args)}):", *fwd.lines,
                f"    return {self.loss.expr(out, 'y')}, ({', '.join(aux)},)"], args

    def gradient_line(self) -> str:
        argnums = ", ".join(map(str, range(len(self.names))))
        return f"gradient = value_and_grad(objective, ({argnums},), has_aux=True)"

    def state_variables(self, g: Emitter) -> dict:
        return {key: f"s_{g.params[key[0]][2:]}_{key[1]}" for key in self.states}

    def emit_update(self, g: Emitter, grads: list[str], states: dict) -> tuple[list, list]:
        """Clip `grads` if asked, then the optimizer's update of every parameter: the
        variables of the new parameters and of the new optimizer states."""
        opt = self.optimizer
        if self.clip_norm is not None:
            grads = self.emit_clipping(g, grads)
        new_params, new_states = [], []
        for name, grad, (_, value) in zip(self.names, grads, self.model.named_parameters()):
            mine = [states[(name, s)] for s in opt.state_names]
            p, s = opt.emit(g, g.params[name], grad, mine, np.ndim(value))
            new_params.append(p)
            new_states += s
        return new_params, new_states

    def compile(self, source: str, label: str) -> dict:
        names = {k: getattr(optim, k) for k in dir(optim) if k.startswith(("sgd_", "adam_"))}
        names.update(self.loss.names())
        return compile_source(source, f"{type(self.model).__name__} {label}", names)

    def emit_clipping(self, g: Emitter, grads: list[str]) -> list[str]:
        """Scale every gradient by min(1, clip_norm / (global norm + 1e-6)), as torch's
        clip_grad_norm_."""
        squares = []
        for grad, (_, value) in zip(grads, self.model.named_parameters()):
            squares.append(g.let(sum_of_squares(grad, np.ndim(value))))
        norm = g.let(f"sqrt({' + '.join(squares)})")
        scale = g.let(f"min(1.0, clip_norm / ({norm} + 1e-6))")
        return [g.let(optim.elementwise("op_mul", [grad], [scale], np.ndim(value)))
                for grad, (_, value) in zip(grads, self.model.named_parameters())]

    def small(self, batch_elements: int) -> bool:
        """Whether a batch of that many elements and every parameter hold fewer than
        65,536: cpu then runs the step on this thread alone (its serial variant)."""
        if self.small_params is None:
            self.small_params = small_arrays(self.optimizer.params)
        return self.small_params and batch_elements < SMALL

    def check(self, x, y) -> None:
        """The batch fits the loss and the model, and is where the model is."""
        self.loss.check(x, y)
        self.model.check_input(x)
        check_place(self.model, x, [(k, t[k]) for t, k in self.slots])

    def checked_call(self, x, y):
        """The step with every check of the batch and the model (each problem a clear
        error); the step is then specialised for these argument types (`warm_call`)."""
        self.check(x, y)
        step = self.function_for(x)
        args = self.arguments(x, y)
        result = self.call_program(step, args)
        self.warm = (np.ndim(x), image_shape(x),
                     step.specialize(*args, target_place=self.model.place))
        return result

    def call_program(self, program, args: tuple, place=None):
        """Run `program`; a classification loss's index error is a label out of range."""
        try:
            return program(*args, target_place=place or self.model.place)
        except CuparIndexError as err:
            raise self.label_error(err) from None

    def label_error(self, err: CuparIndexError):
        """A step's index error as what it means for a classification loss: a label out of
        range (for other losses, itself)."""
        if not self.loss.classification:
            return err
        return CuparValueError(f"a label is out of range for the model's outputs "
                               f"({err.message})", caller_loc(),
                               "labels are class numbers 0 .. classes - 1")

    def warm_call(self, x, y):
        """The step by its specialisation for the last checked call's types (which checks
        every argument's class, dtype and rank: host or device arrays, the batch's and the
        labels'), or None where it does not fit or fails: the checked call then runs, and
        reports any problem clearly. (At batch 32 of the digits MLP, the checks and the
        ordinary call's look-up took 18 of a step's 60 us.)"""
        warm = self.warm
        if warm is None or type(x) is not np.ndarray and not hasattr(x, "copy_to_host") or \
                np.ndim(x) != warm[0] or (warm[1] is not None and image_shape(x) != warm[1]):
            return None
        if self.loss.classification and (type(y) is not np.ndarray or
                                         (y.size and y.min() < 0)):
            return None  # (a negative label would index from the end: the checks refuse it)
        try:
            return warm[2](*self.arguments(x, y))
        except CuparError:  # (arguments of other types: CuparTypeError)
            return None

    def arguments(self, x, y) -> tuple:
        """The step function's arguments for batch (x, y), e.g. for cupar.explain."""
        arrays = [table[key] for table, key in self.slots]
        n = len(self.names)
        hyper = tuple(self.optimizer.hyper().values())
        return (*arrays[:n], *self.states.values(), *arrays[n:], x, y,
                self.optimizer.step_count, *hyper, float(self.clip_norm or 0.0))

    def run(self, x, y, order, batch_size: int, start: int = 0, stop: int | None = None,
            skip_nonfinite: bool = False) -> Ran:
        """Steps start .. stop - 1 (default: to the last batch) as ONE compiled call at cpu:
        step k trains on rows order[k * batch_size : (k + 1) * batch_size] of (x, y), as
        `step(x[rows], y[rows])` would (see cupar/nn/steps.py; at gpu0, one call a step).
        A step whose loss is NaN or infinite stops the run before it, the model as it was
        then (`skip_nonfinite`: that step is skipped instead). Returns what it did."""
        return run_steps(self, x, y, order, batch_size, start, stop, skip_nonfinite)

    def __call__(self, x, y, sync: bool = True, check_finite: bool = False):
        """One step on batch (x, y). With `check_finite`, a step whose loss is NaN or
        infinite changes nothing (the loss is returned for the caller to report)."""
        if self.sharding():
            return self.shards(x, y, check_finite)
        return self.one_call(x, y, sync, check_finite)

    def one_call(self, x, y, sync: bool, check_finite: bool):
        """The step as one compiled call."""
        with cupar.places.cpu.subnormals_flushed(workers=not self.small(np.size(x))):
            result = self.warm_call(x, y)
            if result is None:
                result = self.checked_call(x, y)
        loss, correct, *rest = result
        if sync or check_finite:
            value = float(loss if isinstance(loss, (float, np.floating)) else
                          cupar.places.to_host(loss))
        else:
            value = loss
        if check_finite and not np.isfinite(value):
            return value
        self.adopt(rest, 1)
        self.correct = correct
        return value

    def adopt(self, arrays: list, steps: int) -> None:
        """Take a step's (or a run's) results as the model's: the new parameters, the
        optimizer's new states and the new buffers, in that order, after `steps` steps."""
        n, k = len(self.names), len(self.states)
        for (table, key), new in zip(self.slots, arrays[:n] + arrays[n + k:]):
            table[key] = new
        for key, new in zip(self.states, arrays[n:n + k]):
            self.states[key] = new
        self.optimizer.params = arrays[:n]
        self.optimizer.step_count += steps


def small_arrays(arrays) -> bool:
    """Whether every array holds fewer than 65,536 elements (cpu's rule for a call it runs
    on the calling thread alone)."""
    return max((int(np.size(a)) for a in arrays), default=0) < SMALL


def sum_of_squares(array: str, rank: int) -> str:
    expr = "sum(map(lambda v: v * v, {}))"
    for depth in range(1, rank):
        expr = "sum(map(lambda r%d: %s, {}))" % (depth, expr.format(f"r{depth}"))
    return expr.format(array)


def zeros_like(value, model):
    host = np.zeros(np.shape(value), np.dtype(value.dtype))
    return model.place_array(host)


__all__ = ["TrainStep", "forward_function", "CuparTypeError"]
