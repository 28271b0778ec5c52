"""The source of a model's programs, generated from its modules as cupar code.

Each module writes its forward pass as lines of cupar (`Module.emit(g, x)`), naming its
parameters and buffers through the `Emitter`, which turns them into arguments of the
generated function. The generated source is ordinary cupar: it is compiled by `@parallel`
like hand-written code, `cupar.explain` shows it, and `inspect` finds it (it is registered
with `linecache` under a name such as `<cupar.nn Sequential 3f2a9c1e>`).

    def forward(p_0_weight, p_0_bias, p_2_weight, p_2_bias, x):
        h1 = F.linear(x, p_0_weight, p_0_bias)
        h2 = F.relu(h1)
        h3 = F.linear(h2, p_2_weight, p_2_bias)
        return h3
"""

from __future__ import annotations

import contextlib
import hashlib
import linecache
import re

import numpy as np

import cupar
import cupar.nn.functional as F


class Emitter:
    """Collects the lines of one generated function. `param(name)` and `buffer(name)` give
    the argument holding a module's array; `let(expr)` binds an expression to a fresh name;
    `set_buffer(name, var)` records a buffer's new value (batch norm in training)."""

    def __init__(self, params: list[str], buffers: list[str], training: bool, rank: int,
                 shape: tuple | None = None):
        self.rank = rank  # dimensions of the value flowing through (layers update it)
        # Images: `image` is the (channels, height, width) of the 4-D batch flowing through
        # where known (from the input's `shape`, then each layer's), else None; `rows` says
        # it flows as rows of pixels (batch * height * width, channels), a 2-D value (see
        # cupar/nn/conv.py), which the layers with `takes_rows` (and only while
        # `rows_allowed`, inside `sequence`) keep it in; `images` turns it back to NCHW.
        self.image = tuple(int(d) for d in shape) if shape is not None and len(shape) == 3 \
            and rank == 4 else None
        self.rows = False
        self.rows_allowed = False
        self.params = {n: "p_" + identifier(n) for n in params}
        self.buffers = {n: "b_" + identifier(n) for n in buffers}
        self.training = training
        self.lines: list[str] = []
        self.updates: dict[str, str] = {}
        self.prefix: list[str] = []
        self.count = 0
        self.dropouts = 0

    @contextlib.contextmanager
    def scope(self, name: str):
        self.prefix.append(name)
        try:
            yield
        finally:
            self.prefix.pop()

    def qualified(self, name: str) -> str:
        return ".".join(self.prefix + [name])

    def param(self, name: str) -> str:
        return self.params[self.qualified(name)]

    def buffer(self, name: str) -> str:
        return self.buffers[self.qualified(name)]

    def set_buffer(self, name: str, var: str) -> None:
        self.updates[self.qualified(name)] = var

    def let(self, expr: str, count: int = 1) -> str:
        """Bind `expr` to a fresh name (or `count` names, unpacking a tuple); return it."""
        names = []
        for _ in range(count):
            self.count += 1
            names.append(f"h{self.count}")
        self.lines.append(f"    {', '.join(names)} = {expr}")
        return names[0] if count == 1 else names

    # -- images as rows of pixels ----------------------------------------------------------
    def can_use_rows(self) -> bool:
        """Whether an image layer may take and give rows of pixels here (see __init__)."""
        return self.rows_allowed and self.image is not None and (self.rows or self.rank == 4)

    def to_rows(self, x: str) -> str:
        """x as rows of pixels (converted from NCHW once, where the rows start)."""
        if self.rows:
            return x
        self.rows, self.rank = True, 2
        return self.let(f"F.nchw_rows({x})")

    def images(self, x: str) -> str:
        """x as NCHW images again (where it flows as rows of pixels)."""
        if not self.rows:
            return x
        _, height, width = self.image
        self.rows, self.rank = False, 4
        return self.let(f"F.rows_nchw({x}, {height}, {width})")

    def sequence(self, layers, x: str) -> str:
        """Emit `layers` ((name, module) pairs) one after another: images stay rows of
        pixels from the first layer that takes them so to the last; any other layer gets
        NCHW images (and what it returns has unknown sizes), as does the caller."""
        entered, allowed = self.rows, self.rows_allowed
        for name, layer in layers:
            takes = getattr(layer, "takes_rows", False)
            if not takes:  # NCHW in, and sizes unknown inside it (it may change them
                x = self.images(x)  # before its own children see them) and after it
                self.image = None
            with self.scope(name):
                self.rows_allowed = takes
                x = layer.emit(self, x)
        self.rows_allowed = allowed
        if not entered:
            x = self.images(x)
        return x

    def dropout_seed(self) -> str:
        """A seed distinct for each dropout layer and each step: `seed * 64 + layer`."""
        self.dropouts += 1
        return f"seed * 64 + {self.dropouts}"

    def signature(self) -> list[str]:
        return list(self.params.values()) + list(self.buffers.values())


def identifier(name: str) -> str:
    return re.sub(r"\W", "_", name)


def image_shape(x) -> tuple | None:
    """The (channels, height, width) of a batch of NCHW images (None for other input): the
    generated programs of image models are specialised to it (literal sizes)."""
    return tuple(int(d) for d in np.shape(x)[1:]) if np.ndim(x) == 4 else None


def forward_source(model, training: bool, rank: int,
                   shape: tuple | None = None) -> tuple[str, Emitter]:
    """`forward(params..., buffers..., x, seed)`: the model's output for input of `rank`
    dimensions (and, in training, its buffers' new values: `return out, (b1, b2, ...)`)."""
    g = Emitter([n for n, _ in model.named_parameters()],
                [n for n, _ in model.named_buffers()], training, rank, shape)
    out = model.emit(g, "x")
    args = ", ".join(g.signature() + ["x", "seed"])
    result = out
    if training and g.buffers:
        news = [g.updates.get(n, var) for n, var in g.buffers.items()]
        result = f"{out}, ({', '.join(news)}{',' if len(news) == 1 else ''})"
    lines = [f"def forward({args}):", *g.lines, f"    return {result}"]
    return "\n".join(lines) + "\n", g


def compile_source(source: str, label: str, names: dict) -> dict:
    """Run generated `source` with the globals cupar code expects plus `names`; register
    it with linecache so `@parallel` (which reads source through inspect) finds it."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:8]
    filename = f"<cupar.nn {label} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"F": F, "cupar": cupar, "__name__": "cupar.nn.generated"}
    namespace.update({k: getattr(cupar, k) for k in cupar.__all__})
    namespace.update(grad=cupar.grad, value_and_grad=cupar.value_and_grad)
    namespace.update(names)
    exec(compile(source, filename, "exec"), namespace)
    return namespace
