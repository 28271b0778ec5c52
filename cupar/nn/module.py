"""`Module`: the thin object layer over `cupar.nn.functional`, with torch's names and habits.

A module holds named parameters (float arrays that training updates), named buffers (state
that is not trained, such as batch norm's running statistics) and child modules, and knows
how to write its forward pass as cupar source (`emit`). A whole model's forward, and a whole
training step, are generated from those pieces as one `@parallel` function (codegen.py), so a
call pays cupar's dispatch once, not once per layer.

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model(x)                      # logits, one compiled call
    model.state_dict()            # {"0.weight": ..., "0.bias": ..., "2.weight": ...}
    model.eval(); model.to(cupar.places.gpu0)

Parameters are NumPy arrays at `cpu` and `here`, device arrays after `to(gpu0)`. A training
step replaces them with new arrays (it does not write into the old ones): read them through
the model (`model[0].weight`), not through a reference kept from before training.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

import cupar
from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparTypeError, CuparValueError

from .codegen import Emitter


class Module:
    """Base class of layers and models. Subclasses register parameters and buffers with
    `register_parameter` / `register_buffer`, assign child modules as attributes, and
    implement `emit(g, x)` (see codegen.Emitter): the cupar expression of their output."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "place", cupar.places.cpu)
        object.__setattr__(self, "_compiled", {})

    # -- registration ---------------------------------------------------------------------
    def register_parameter(self, name: str, value) -> None:
        self._parameters[name] = value

    def register_buffer(self, name: str, value) -> None:
        self._buffers[name] = value

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_parameters", ()):
            self._parameters[name] = self._fitting(name, self._parameters[name], value)
            return
        elif name in self.__dict__.get("_buffers", ()):
            self._buffers[name] = self._fitting(name, self._buffers[name], value)
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @staticmethod
    def _fitting(name: str, old, new):
        if tuple(np.shape(new)) != tuple(np.shape(old)) or \
                np.dtype(new.dtype) != np.dtype(old.dtype):
            raise CuparValueError(
                f"`{name}` is a {np.dtype(old.dtype)} array of shape {tuple(np.shape(old))}; "
                f"it cannot be replaced by a {np.dtype(new.dtype)} array of shape "
                f"{tuple(np.shape(new))}", caller_loc(), "assign an array of the same shape "
                "and dtype (or build a new layer)")
        return new

    # -- traversal ------------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self):
        return list(self._modules.values())

    def named_parameters(self):
        """(qualified name, array) pairs, depth first, in registration order (torch's)."""
        return [(f"{p}.{n}" if p else n, v) for p, m in self.named_modules()
                for n, v in m._parameters.items()]

    def parameters(self):
        return [v for _, v in self.named_parameters()]

    def named_buffers(self):
        return [(f"{p}.{n}" if p else n, v) for p, m in self.named_modules()
                for n, v in m._buffers.items()]

    def buffers(self):
        return [v for _, v in self.named_buffers()]

    def slots(self) -> list:
        """(table, key) of every parameter, then every buffer, in named order: where a
        training step reads and replaces them without walking the modules again."""
        return [(m._parameters, n) for _, m in self.named_modules() for n in m._parameters] + \
            [(m._buffers, n) for _, m in self.named_modules() for n in m._buffers]

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and buffer by qualified name, as host NumPy copies."""
        return OrderedDict((n, np.array(cupar.places.to_host(v)))
                           for n, v in self.named_parameters() + self.named_buffers())

    def load_state_dict(self, state: dict) -> None:
        """Replace every parameter and buffer from `state` (names, shapes and dtypes must
        match the model exactly); nothing changes unless everything fits."""
        own = OrderedDict(self.named_parameters() + self.named_buffers())
        problems = state_mismatches(own, state)
        if problems:
            raise CuparValueError("the state does not fit this model: " + "; ".join(problems),
                                  caller_loc(), "load a state saved from the same "
                                  "architecture (compare model.state_dict() keys and shapes)")
        for name, value in state.items():
            self._assign(name, self.place_array(np.asarray(value)))

    def _assign(self, qualified: str, value) -> None:
        path, _, leaf = qualified.rpartition(".")
        module = self
        for part in path.split(".") if path else ():
            module = module._modules[part]
        table = module._parameters if leaf in module._parameters else module._buffers
        table[leaf] = value

    # -- modes and places -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def to(self, place) -> "Module":
        """Move every parameter and buffer to `place` (cupar.places.cpu, here or gpu0):
        at gpu0 they live in GPU memory, and training steps keep them there."""
        if not isinstance(place, cupar.places.Place):
            raise CuparTypeError(f"to() takes a cupar place, not {place!r}", caller_loc(),
                                 "use cupar.places.cpu, cupar.places.here or "
                                 "cupar.places.gpu0")
        if isinstance(place, type(cupar.places.gpu0)):
            place.require()
        for _, m in self.named_modules():
            object.__setattr__(m, "place", place)
        for name, value in self.named_parameters() + self.named_buffers():
            self._assign(name, self.place_array(cupar.places.to_host(value)))
        return self

    def place_array(self, host: np.ndarray):
        if isinstance(self.place, type(cupar.places.gpu0)):
            return self.place.to_device(np.ascontiguousarray(host))
        return np.array(host)  # a private copy: the caller's array is never trained in place

    # -- forward --------------------------------------------------------------------------
    # whether `emit` takes images as rows of pixels (codegen.Emitter.sequence): a module
    # that does keeps them so, or turns them back with g.images(x)
    takes_rows = False

    def emit(self, g: Emitter, x: str) -> str:
        raise NotImplementedError(f"{type(self).__name__} does not define emit()")

    def check_input(self, x) -> None:
        """Raise a located error for input this module cannot take (shape, dtype)."""

    def __call__(self, x):
        from .compiled import forward_function
        self.check_input(x)
        run = forward_function(self, self.training)
        return run(x, caller_loc())

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({n}): {repr(m)}".replace("\n", "\n  ") for n, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n  " + "\n  ".join(lines) + "\n)" if lines else ")")


def state_mismatches(own: dict, state: dict) -> list[str]:
    """What keeps `state` from loading into a model with entries `own` (empty: it fits)."""
    problems = [f"missing `{n}`" for n in own if n not in state]
    problems += [f"unexpected `{n}`" for n in state if n not in own]
    for name in own.keys() & state.keys():
        want, got = own[name], state[name]
        if tuple(np.shape(got)) != tuple(np.shape(want)) or \
                np.dtype(getattr(got, "dtype", None)) != np.dtype(want.dtype):
            problems.append(f"`{name}` is {np.dtype(getattr(got, 'dtype', None))}"
                            f"{list(np.shape(got))}, the model's is "
                            f"{np.dtype(want.dtype)}{list(np.shape(want))}")
    return problems


class Sequential(Module):
    """Modules applied in order; children are named "0", "1", ... as in torch."""

    def __init__(self, *layers: Module):
        super().__init__()
        for k, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise CuparTypeError(f"Sequential takes modules, not {type(layer).__name__}",
                                     caller_loc(), "e.g. nn.Sequential(nn.Linear(4, 8), "
                                     "nn.ReLU())")
            self._modules[str(k)] = layer

    def __getitem__(self, k: int) -> Module:
        return list(self._modules.values())[k]

    def __len__(self) -> int:
        return len(self._modules)

    takes_rows = True  # its layers' emits handle images as rows of pixels (Emitter.sequence)

    def emit(self, g: Emitter, x: str) -> str:
        return g.sequence(self._modules.items(), x)

    def check_input(self, x) -> None:
        if self._modules:
            self[0].check_input(x)
