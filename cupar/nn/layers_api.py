"""Layer modules with torch's names: `Linear`, the activations, `Dropout`, `LayerNorm`,
`BatchNorm1d`, `Embedding`. Each one's `emit` writes a call of its `cupar.nn.functional`
function into the model's generated program; `check_input` refuses, at the user's line,
input the layer cannot take.

Linear weights are stored (in, out), the transpose of torch's (see layers.py for why):
`Linear(64, 128).weight.shape == (64, 128)`.
"""

from __future__ import annotations

import numpy as np

from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparTypeError, CuparValueError

from . import init
from .module import Module
from .optim import elementwise


def check_rows(layer, x, width: int | None, dtype, rank: int = 2) -> None:
    """x must be a `rank`-D array of `dtype` whose last axis is `width` (None: any)."""
    shape = np.shape(x)
    if len(shape) == rank and (width is None or shape[-1] == width) and \
            (dtype is None or getattr(x, "dtype", None) == dtype):
        return  # (the common case, checked first: repr(layer) costs)
    layer = repr(layer)
    if len(shape) != rank:
        raise CuparValueError(f"{layer} takes a {rank}-D batch, but the input has shape "
                              f"{tuple(shape)}", caller_loc(),
                              "a batch is (batch, features)" if rank == 2 else None)
    if width is not None and shape[-1] != width:
        raise CuparValueError(f"{layer} takes rows of {width} features, but the input's rows "
                              f"have {shape[-1]}", caller_loc(),
                              "check the previous layer's output width")
    if dtype is not None and getattr(x, "dtype", None) != dtype:
        raise CuparTypeError(f"{layer} has {np.dtype(dtype)} parameters, but the input is "
                             f"{np.dtype(getattr(x, 'dtype', None))}", caller_loc(),
                             f"convert the input: x.astype(np.{np.dtype(dtype)})")


class Linear(Module):
    """y = x @ weight + bias, weight (in_features, out_features) initialised as torch's; on
    a sequence (batch, steps, in_features), at every step (as torch's, on the last axis)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, seed=None,
                 dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features, self.dtype = in_features, out_features, dtype
        rng = init.generator(seed)
        self.register_parameter("weight", init.torch_default(
            (in_features, out_features), in_features, rng, dtype))
        if bias:
            self.register_parameter("bias", init.torch_default((out_features,), in_features,
                                                               rng, dtype))

    def emit(self, g, x: str) -> str:
        steps = "_steps" if g.rank == 3 else ""  # every step of a sequence: one product
        g.rank = 3 if steps else 2
        if "bias" in self._parameters:
            return g.let(f"F.linear{steps}({x}, {g.param('weight')}, {g.param('bias')})")
        return g.let(f"{'F.matmul_steps' if steps else 'matmul'}({x}, {g.param('weight')})")

    def check_input(self, x) -> None:
        check_rows(self, x, self.in_features, self.dtype, rank=3 if np.ndim(x) == 3 else 2)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={'bias' in self._parameters}"


class Elementwise(Module):
    """An activation applied to every element, whatever the rank of the batch."""

    scalar = ""  # the per-element function (of cupar.nn.functional, or the prelude's)
    takes_rows = True  # images as rows of pixels are rows: mapped as any 2-D batch

    def arguments(self) -> list[str]:
        return []

    def emit(self, g, x: str) -> str:
        if g.rank == 4:  # images run flat: the derived gradient of 4-deep maps is slow
            flat = elementwise(self.scalar, [f"F.flatten_all({x})"], self.arguments(), 1)
            return g.let(f"F.shaped_like({flat}, {x})")
        return g.let(elementwise(self.scalar, [x], self.arguments(), g.rank))


class ReLU(Elementwise):
    scalar = "F.relu1"


class GELU(Elementwise):
    scalar = "F.gelu1"


class Sigmoid(Elementwise):
    scalar = "F.sigmoid1"


class Tanh(Elementwise):
    scalar = "tanh"


class LeakyReLU(Elementwise):
    scalar = "F.leaky_relu1"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def arguments(self) -> list[str]:
        return [repr(self.negative_slope)]

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """Softmax of each row (dim=-1 of a 2-D batch)."""

    def emit(self, g, x: str) -> str:
        return g.let(f"F.softmax({x})")


class LogSoftmax(Module):
    def emit(self, g, x: str) -> str:
        return g.let(f"F.log_softmax({x})")


class Dropout(Module):
    """Zeroes elements with probability p in training (scaling the rest by 1 / (1 - p));
    the identity in eval. The mask is drawn from the step number and the layer's position,
    so a seeded run is reproducible. Any batch of 1 to 4 dimensions: each sample's numbers
    are numbered in row-major order (images flowing as rows of pixels keep that order)."""

    takes_rows = True
    CALLS = {1: "F.dropout_flat", 2: "F.dropout", 3: "F.dropout3", 4: "F.dropout4"}

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise CuparValueError(f"dropout probability must lie in [0, 1), not {p}",
                                  caller_loc(), "e.g. Dropout(0.5)")
        self.p = float(p)

    def emit(self, g, x: str) -> str:
        if not g.training or self.p == 0.0:
            return x
        if g.rank not in self.CALLS:
            raise CuparValueError(f"Dropout takes a batch of 1 to 4 dimensions, not {g.rank}",
                                  None, "flatten the input first")
        return g.let(f"{self.CALLS[g.rank]}({x}, {self.p!r}, True, {g.dropout_seed()})")

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """Each row normalised, then scaled and shifted (weight 1, bias 0 at first)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, dtype=np.float32):
        super().__init__()
        self.width, self.eps, self.dtype = int(normalized_shape), float(eps), dtype
        self.register_parameter("weight", np.ones(self.width, dtype))
        self.register_parameter("bias", np.zeros(self.width, dtype))

    def emit(self, g, x: str) -> str:
        return g.let(f"F.layer_norm({x}, {g.param('weight')}, {g.param('bias')}, "
                     f"{self.eps!r})")

    def check_input(self, x) -> None:
        check_rows(self, x, self.width, self.dtype)

    def extra_repr(self) -> str:
        return f"({self.width},), eps={self.eps}"


class Embedding(Module):
    """Rows of `weight` (num_embeddings, embedding_dim) picked by integer indices; N(0, 1)
    at first, as torch."""

    def __init__(self, num_embeddings: int, embedding_dim: int, seed=None, dtype=np.float32):
        super().__init__()
        self.num, self.dim = num_embeddings, embedding_dim
        self.register_parameter("weight", init.normal((num_embeddings, embedding_dim), 1.0,
                                                      init.generator(seed), dtype))

    def emit(self, g, x: str) -> str:
        g.rank = g.rank + 1
        table = g.param('weight')
        if g.rank == 2:
            return g.let(f"F.embedding({x}, {table})")
        return g.let(f"map(lambda r: F.embedding(r, {table}), {x})")

    def check_input(self, x) -> None:
        where = caller_loc()
        x = np.asarray(x) if isinstance(x, (list, tuple)) else x
        if np.dtype(x.dtype).kind not in "iu":
            raise CuparTypeError(f"Embedding takes integer indices, not {x.dtype}", where,
                                 "pass token numbers as an int64 array")
        if isinstance(x, np.ndarray) and x.size and (x.min() < 0 or x.max() >= self.num):
            raise CuparValueError(f"an index is outside 0 .. {self.num - 1}: "
                                  f"{x.min() if x.min() < 0 else x.max()}", where,
                                  f"the table has {self.num} rows")

    def extra_repr(self) -> str:
        return f"{self.num}, {self.dim}"


class Flatten(Module):
    """(batch, ...) to (batch, features), row-major, as torch's Flatten()."""

    takes_rows = True

    def emit(self, g, x: str) -> str:
        if g.rows:  # rows of pixels: gathered into torch's (channel, row, column) order
            _, height, width = g.image
            g.rows, g.rank, g.image = False, 2, None
            return g.let(f"F.rows_flatten({x}, {height}, {width})")
        g.image = None
        if g.rank <= 2:
            return x
        name = {3: "F.flatten", 4: "F.flatten4"}[g.rank]
        g.rank = 2
        return g.let(f"{name}({x})")
