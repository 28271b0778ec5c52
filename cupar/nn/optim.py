"""`cupar.nn.optim`: SGD (momentum, Nesterov, weight decay), Adam and AdamW, learning-rate
schedules, and gradient clipping by global norm, with torch's names and update rules.

An optimizer does not run by itself: it writes its update into the model's training step
(`cupar.nn.TrainStep`), so the forward pass, the loss, the gradients and the update of every
parameter are one compiled program. Each parameter's update is one map over its elements,
written here as a per-element `@parallel` function; hyperparameters are arguments of the
step, so changing the learning rate (a schedule) never recompiles.

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    sched = optim.CosineAnnealingLR(opt, T_max=30)
    step = nn.TrainStep(model, nn.CrossEntropyLoss(), opt, clip_norm=1.0)
"""

from __future__ import annotations

import math

from cupar import *  # noqa: F401,F403
from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparValueError


# -- per-element updates, in cupar ---------------------------------------------------------

@parallel
def sgd_velocity(g, p, buf, momentum, dampening, weight_decay, first):
    """torch's momentum buffer: the (decayed) gradient at the first step, then
    momentum * buf + (1 - dampening) * gradient."""
    d = g + weight_decay * p
    return d if first else momentum * buf + (1.0 - dampening) * d


@parallel
def sgd_param(g, p, velocity, lr, momentum, weight_decay, nesterov):
    """The parameter after one SGD step with momentum (velocity already updated)."""
    d = g + weight_decay * p
    return p - lr * (d + momentum * velocity if nesterov else velocity)


@parallel
def sgd_plain(g, p, lr, weight_decay):
    return p - lr * (g + weight_decay * p)


@parallel
def adam_first(g, p, m, beta1, weight_decay):
    return beta1 * m + (1.0 - beta1) * (g + weight_decay * p)


@parallel
def adam_second(g, p, v, beta2, weight_decay):
    d = g + weight_decay * p
    return beta2 * v + (1.0 - beta2) * d * d


@parallel
def adam_param(p, m, v, lr, correction1, correction2, eps, decoupled_decay):
    """p - lr * m_hat / (sqrt(v_hat) + eps), with AdamW's decoupled decay p * (1 - lr wd)
    (`decoupled_decay` is lr * wd, 0 for Adam). The corrections are 1 / (1 - beta^t)."""
    return p * (1.0 - decoupled_decay) - lr * (m * correction1) / (sqrt(v * correction2) + eps)


# -- optimizers ---------------------------------------------------------------------------

class Optimizer:
    """Hyperparameters, per-parameter state arrays, and the source of one update. Subclasses
    name their state (`state_names`), their step's scalar arguments (`hyper`) and write the
    update with `emit`.

    `linear_scaling=True` applies Goyal et al.'s rule when training data-parallel
    (`nn.DataParallel`): the rate is multiplied by the number of processes, reached
    linearly from lr over the first `warmup_steps` steps. With one process it changes
    nothing."""

    state_names: tuple = ()
    # the arguments of `hyper` that may change from one step to the next (the others are
    # the same for every step of a `TrainStep.run`): a run takes them as arrays, one entry
    # per step
    per_step: tuple = ("lr",)

    def __init__(self, params, lr: float, linear_scaling: bool = False, warmup_steps: int = 0,
                 **defaults):
        self.params = list(params)
        if not self.params:
            raise CuparValueError("the optimizer got no parameters", caller_loc(),
                                  "pass model.parameters()")
        check_positive("lr", lr, allow_zero=True)
        check_positive("warmup_steps", warmup_steps, allow_zero=True)
        self.lr, self.defaults, self.step_count = float(lr), defaults, 0
        self.linear_scaling, self.warmup_steps = bool(linear_scaling), int(warmup_steps)
        self.world_factor = 1  # set to the number of processes by nn.DataParallel

    def step_lr(self) -> float:
        """The rate of the next step: lr, times the world size under linear scaling
        (ramped up over `warmup_steps`)."""
        if not self.linear_scaling or self.world_factor == 1:
            return self.lr
        ramp = min(1.0, self.step_count / self.warmup_steps) if self.warmup_steps else 1.0
        return self.lr * (1 + (self.world_factor - 1) * ramp)

    def hyper(self) -> dict:
        """The scalar arguments of the next step (its number is `step_count + 1`)."""
        raise NotImplementedError

    def emit(self, g, p: str, grad: str, states: list[str], rank: int):
        """Lines computing the new parameter and states; returns (param var, state vars)."""
        raise NotImplementedError


class SGD(Optimizer):
    """torch.optim.SGD: weight decay added to the gradient, momentum buffer as torch's
    (the first step's buffer is the gradient itself), Nesterov's variant when asked."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *,
                 linear_scaling: bool = False, warmup_steps: int = 0):
        super().__init__(params, lr, linear_scaling, warmup_steps)
        for name, value in (("momentum", momentum), ("weight_decay", weight_decay)):
            check_positive(name, value, allow_zero=True)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise CuparValueError("Nesterov momentum needs momentum > 0 and dampening 0",
                                  caller_loc(), "e.g. SGD(params, lr, momentum=0.9, "
                                  "nesterov=True)")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)
        self.state_names = ("momentum_buffer",) if momentum else ()

    per_step = ("lr", "first")

    def hyper(self) -> dict:
        return {"lr": self.step_lr(), "momentum": self.momentum, "dampening": self.dampening,
                "weight_decay": self.weight_decay, "nesterov": self.nesterov,
                "first": self.step_count == 0}

    def emit(self, g, p: str, grad: str, states: list[str], rank: int):
        if not self.momentum:
            return g.let(elementwise("sgd_plain", [grad, p], ["lr", "weight_decay"], rank)), []
        velocity = g.let(elementwise(
            "sgd_velocity", [grad, p, states[0]],
            ["momentum", "dampening", "weight_decay", "first"], rank))
        new = g.let(elementwise("sgd_param", [grad, p, velocity],
                                ["lr", "momentum", "weight_decay", "nesterov"], rank))
        return new, [velocity]


class Adam(Optimizer):
    """torch.optim.Adam (L2 weight decay added to the gradient); AdamW decouples it."""

    state_names = ("exp_avg", "exp_avg_sq")
    per_step = ("lr", "correction1", "correction2", "decoupled_decay")
    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, linear_scaling: bool = False,
                 warmup_steps: int = 0):
        super().__init__(params, lr, linear_scaling, warmup_steps)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise CuparValueError(f"betas must lie in [0, 1), not {betas}", caller_loc(),
                                  "e.g. betas=(0.9, 0.999)")
        check_positive("eps", eps)
        check_positive("weight_decay", weight_decay, allow_zero=True)
        self.betas, self.eps, self.weight_decay = tuple(map(float, betas)), float(eps), \
            float(weight_decay)

    def hyper(self) -> dict:
        t = self.step_count + 1
        b1, b2 = self.betas
        coupled = 0.0 if self.decoupled else self.weight_decay
        lr = self.step_lr()
        return {"lr": lr, "beta1": b1, "beta2": b2, "eps": self.eps,
                "correction1": 1.0 / (1.0 - b1 ** t), "correction2": 1.0 / (1.0 - b2 ** t),
                "weight_decay": coupled,
                "decoupled_decay": lr * self.weight_decay if self.decoupled else 0.0}

    def emit(self, g, p: str, grad: str, states: list[str], rank: int):
        m = g.let(elementwise("adam_first", [grad, p, states[0]],
                              ["beta1", "weight_decay"], rank))
        v = g.let(elementwise("adam_second", [grad, p, states[1]],
                              ["beta2", "weight_decay"], rank))
        new = g.let(elementwise("adam_param", [p, m, v], ["lr", "correction1", "correction2",
                                                         "eps", "decoupled_decay"], rank))
        return new, [m, v]


class AdamW(Adam):
    """torch.optim.AdamW: weight decay applied to the parameter (p * (1 - lr wd)), not
    added to the gradient; default weight_decay 0.01 as torch."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, *, linear_scaling: bool = False,
                 warmup_steps: int = 0):
        super().__init__(params, lr, betas, eps, weight_decay, linear_scaling=linear_scaling,
                         warmup_steps=warmup_steps)


def elementwise(fn: str, arrays: list[str], scalars: list[str], rank: int) -> str:
    """Source mapping per-element function `fn` over `arrays` of `rank` dimensions, with
    `scalars` passed as they are: rank 2 gives map(lambda a1, b1: map(lambda a2, b2:
    fn(a2, b2, lr), a1, b1), A, B)."""
    names = [[f"{chr(97 + k)}{depth}" for k in range(len(arrays))]
             for depth in range(1, rank + 1)]
    expr = f"{fn}({', '.join(names[-1] + scalars)})"
    for depth in range(rank - 1, -1, -1):
        params = ", ".join(names[depth])
        over = ", ".join(names[depth - 1] if depth else arrays)
        expr = f"map(lambda {params}: {expr}, {over})"
    return expr


def check_positive(name: str, value, allow_zero: bool = False) -> None:
    if not isinstance(value, (int, float)) or math.isnan(value) or value < 0 or \
            (value == 0 and not allow_zero):
        raise CuparValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'}"
                              f" number, not {value!r}", caller_loc(),
                              f"e.g. {name}=0.9" if name == "momentum" else None)


# -- schedules ----------------------------------------------------------------------------

class LRScheduler:
    """Sets `optimizer.lr` from the number of `step()` calls (epochs, or steps: your choice,
    as torch). `get_last_lr()` is the rate now in use."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer, self.base_lr, self.last_epoch = optimizer, optimizer.lr, 0
        optimizer.lr = self.rate(0)

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self.rate(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        return [self.optimizer.lr]

    def rate(self, epoch: int) -> float:
        raise NotImplementedError


class StepLR(LRScheduler):
    """lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def rate(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """From lr down to eta_min along half a cosine over T_max steps (then held)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 (torch's)
        self.t_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def rate(self, epoch: int) -> float:
        t = min(epoch, self.t_max)
        return self.eta_min + (self.base_lr - self.eta_min) * \
            (1 + math.cos(math.pi * t / self.t_max)) / 2


class LinearWarmup(LRScheduler):
    """From lr * start_factor up to lr, linearly over `warmup` steps, then `after` (another
    schedule, stepped from then on) or the base rate."""

    def __init__(self, optimizer, warmup: int, start_factor: float = 0.1, after=None):
        self.warmup, self.start_factor, self.after = int(warmup), float(start_factor), after
        super().__init__(optimizer)

    def rate(self, epoch: int) -> float:
        if epoch < self.warmup:
            return self.base_lr * (self.start_factor +
                                   (1 - self.start_factor) * epoch / self.warmup)
        if self.after is not None:
            return self.after.rate(epoch - self.warmup)
        return self.base_lr
