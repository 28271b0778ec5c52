"""`cupar.nn.init`: seeded weight initialisation, torch's formulas (fan_in, fan_out of a
(in, out) matrix or an (out, in, k...) convolution kernel).

    w = init.kaiming_uniform((64, 128), fan_in=64, seed=0)     # float32 by default

Each function returns a new NumPy array; layers call them with a seed drawn from their
constructor's `seed=` (or from `cupar.nn.manual_seed`), so a model is reproducible.
"""

from __future__ import annotations

import math

import numpy as np

_global = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed the generator layers draw from when built without `seed=` (torch's name)."""
    global _global
    _global = np.random.default_rng(seed)


def generator(seed) -> np.random.Generator:
    return _global if seed is None else np.random.default_rng(seed)


def gain(nonlinearity: str = "relu", param: float | None = None) -> float:
    """torch's calculate_gain for the common nonlinearities."""
    table = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
             "leaky_relu": math.sqrt(2.0 / (1 + (0.01 if param is None else param) ** 2)),
             "gelu": math.sqrt(2.0)}
    return table[nonlinearity]


def uniform(shape, bound: float, seed=None, dtype=np.float32) -> np.ndarray:
    return generator(seed).uniform(-bound, bound, shape).astype(dtype)


def normal(shape, std: float, seed=None, dtype=np.float32) -> np.ndarray:
    return (generator(seed).standard_normal(shape) * std).astype(dtype)


def kaiming_uniform(shape, fan_in: int, a: float = 0.0, nonlinearity="leaky_relu",
                    seed=None, dtype=np.float32) -> np.ndarray:
    """U(-b, b) with b = gain * sqrt(3 / fan_in) (torch's kaiming_uniform_)."""
    bound = gain(nonlinearity, a) * math.sqrt(3.0 / fan_in)
    return uniform(shape, bound, seed, dtype)


def kaiming_normal(shape, fan_in: int, a: float = 0.0, nonlinearity="leaky_relu",
                   seed=None, dtype=np.float32) -> np.ndarray:
    return normal(shape, gain(nonlinearity, a) / math.sqrt(fan_in), seed, dtype)


def xavier_uniform(shape, fan_in: int, fan_out: int, gain_: float = 1.0, seed=None,
                   dtype=np.float32) -> np.ndarray:
    bound = gain_ * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, bound, seed, dtype)


def xavier_normal(shape, fan_in: int, fan_out: int, gain_: float = 1.0, seed=None,
                  dtype=np.float32) -> np.ndarray:
    return normal(shape, gain_ * math.sqrt(2.0 / (fan_in + fan_out)), seed, dtype)


def torch_default(shape, fan_in: int, seed=None, dtype=np.float32) -> np.ndarray:
    """What torch's Linear and Conv layers start from: kaiming_uniform with a = sqrt(5),
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for weights and biases alike."""
    return uniform(shape, 1.0 / math.sqrt(fan_in), seed, dtype)
