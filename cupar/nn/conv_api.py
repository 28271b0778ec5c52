"""Convolution, pooling and batch-norm modules with torch's names and layouts: `Conv1d`,
`Conv2d` (weights (out, in, k...) as torch's, so torch's weights load as they are),
`MaxPool2d`, `AvgPool2d`, `BatchNorm1d`, `BatchNorm2d`. Images are NCHW 4-D arrays.

Inside a model's generated program images flow as rows of pixels (batch * height * width,
channels; cupar/nn/conv.py) from the first of these layers to the last: `Conv2d`, the pools,
`BatchNorm2d`, the activations and `Flatten` take and give them so (`takes_rows`), with the
sizes written into the program as literals (it is generated per input channels, height and
width; the batch may vary). The input is converted once; any other layer, and the model's
caller, gets NCHW images back (`codegen.Emitter.sequence`). Outputs are those of the NCHW
functions, up to float rounding; `Flatten` keeps torch's (channel, row, column) order.

    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
"""

from __future__ import annotations

import numpy as np

from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparValueError

from . import init
from .layers_api import check_rows
from .module import Module


def positive(name: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise CuparValueError(f"{name} must be a positive integer, not {value!r}",
                              caller_loc(), f"e.g. {name}=1")
    return int(value)


def square(name: str, value) -> int:
    """torch takes an int or a pair; cupar's kernels take square windows."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or value[0] != value[1]:
            raise CuparValueError(f"{name} must be square, not {value!r}", caller_loc(),
                                  f"pass one number, e.g. {name}=3")
        value = value[0]
    return value


class ConvNd(Module):
    rank = 4
    call = "F.conv2d"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, bias: bool = True, seed=None, dtype=np.float32):
        super().__init__()
        self.in_channels = positive("in_channels", in_channels)
        self.out_channels = positive("out_channels", out_channels)
        self.kernel_size = positive("kernel_size", square("kernel_size", kernel_size))
        self.stride = positive("stride", square("stride", stride))
        padding = square("padding", padding)
        if not isinstance(padding, (int, np.integer)) or padding < 0:
            raise CuparValueError(f"padding must be a non-negative integer, not {padding!r}",
                                  caller_loc(), "e.g. padding=1")
        self.padding, self.dtype = int(padding), dtype
        shape = (out_channels, in_channels) + (self.kernel_size,) * (self.rank - 2)
        fan_in = in_channels * self.kernel_size ** (self.rank - 2)
        rng = init.generator(seed)
        self.register_parameter("weight", init.torch_default(shape, fan_in, rng, dtype))
        if bias:
            self.register_parameter("bias", init.torch_default((out_channels,), fan_in, rng,
                                                               dtype))

    def emit(self, g, x: str) -> str:
        w = g.param("weight")
        bias = g.param("bias") if "bias" in self._parameters else \
            f"map(lambda k: 0.0 * k[0][0]{'[0]' * (self.rank - 3)}, {w})"
        k, stride, padding = self.kernel_size, self.stride, self.padding
        if self.takes_rows and g.can_use_rows():  # rows of pixels in, rows out
            x = g.to_rows(x)
            _, height, width = g.image
            g.image = (self.out_channels, (height + 2 * padding - k) // stride + 1,
                       (width + 2 * padding - k) // stride + 1)
            return g.let(f"F.conv2d_rows_sized({x}, {w}, {bias}, {height}, {width}, {k}, "
                         f"{k}, {stride}, {padding})")
        if self.rank == 4 and g.image is not None and g.rank == 4:
            _, height, width = g.image
            g.image = (self.out_channels, (height + 2 * padding - k) // stride + 1,
                       (width + 2 * padding - k) // stride + 1)
        else:
            g.image = None
        g.rank = self.rank
        return g.let(f"{self.call}({x}, {w}, {bias}, {stride}, {padding})")

    def check_input(self, x) -> None:
        check_rows(self, x, None, self.dtype, rank=self.rank)
        if np.shape(x)[1] != self.in_channels:
            raise CuparValueError(f"{self!r} takes {self.in_channels} input channels, but the "
                                  f"input has {np.shape(x)[1]}", caller_loc(),
                                  "the layout is (batch, channels, ...), as torch's")
        smallest = self.kernel_size - 2 * self.padding
        if min(np.shape(x)[2:]) < smallest:
            raise CuparValueError(f"{self!r} needs inputs of at least {smallest} pixels a side",
                                  caller_loc(), "pad the input or use a smaller kernel")

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"stride={self.stride}, padding={self.padding}"


class Conv2d(ConvNd):
    """torch.nn.Conv2d with square kernels, one stride and one padding for both axes."""
    takes_rows = True


class Conv1d(ConvNd):
    """torch.nn.Conv1d over (batch, channels, length)."""
    rank = 3
    call = "F.conv1d"


class Pool2d(Module):
    call = ""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = positive("kernel_size", square("kernel_size", kernel_size))
        self.stride = positive("stride", square("stride", stride)) if stride is not None \
            else self.kernel_size
        pad = square("padding", padding)
        if not isinstance(pad, (int, np.integer)) or isinstance(pad, bool) or \
                not 0 <= pad <= self.kernel_size // 2:
            raise CuparValueError(f"padding must be an integer from 0 to half the kernel "
                                  f"size ({self.kernel_size // 2}), not {padding!r}",
                                  caller_loc(), "as torch requires: every window then holds "
                                  "a pixel of the image")
        self.padding = int(pad)

    takes_rows = True

    def emit(self, g, x: str) -> str:
        k, stride, pad = self.kernel_size, self.stride, self.padding
        if pad == 0 and g.can_use_rows():
            x = g.to_rows(x)
            channels, height, width = g.image
            g.image = (channels, (height - k) // stride + 1, (width - k) // stride + 1)
            return g.let(f"{self.call}_rows({x}, {height}, {width}, {k}, {stride})")
        x = g.images(x)  # padded windows are taken over NCHW images
        if g.image is not None and g.rank == 4:
            channels, height, width = g.image
            g.image = (channels, (height + 2 * pad - k) // stride + 1,
                       (width + 2 * pad - k) // stride + 1)
        if pad:
            return g.let(f"{self.call}_padded({x}, {k}, {stride}, {pad})")
        return g.let(f"{self.call}({x}, {k}, {stride})")

    def extra_repr(self) -> str:
        padding = f", padding={self.padding}" if self.padding else ""
        return f"kernel_size={self.kernel_size}, stride={self.stride}{padding}"


class MaxPool2d(Pool2d):
    """torch.nn.MaxPool2d (stride defaults to the kernel size; padding reads as -inf)."""
    call = "F.max_pool2d"


class AvgPool2d(Pool2d):
    """torch.nn.AvgPool2d (count_include_pad: padding counts as zeros in the mean)."""
    call = "F.avg_pool2d"


class BatchNormNd(Module):
    call = "F.batch_norm"
    rank = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype=np.float32):
        super().__init__()
        self.num_features = positive("num_features", num_features)
        self.eps, self.momentum, self.dtype = float(eps), float(momentum), dtype
        self.register_parameter("weight", np.ones(num_features, dtype))
        self.register_parameter("bias", np.zeros(num_features, dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))

    def emit(self, g, x: str) -> str:
        call = self.call
        if self.takes_rows and g.can_use_rows():  # a channel is a column of the rows
            x, call = g.to_rows(x), "F.batch_norm"
        args = f"{x}, {g.buffer('running_mean')}, {g.buffer('running_var')}, " \
               f"{g.param('weight')}, {g.param('bias')}"
        if not g.training:
            return g.let(f"{call}({args}, False, {self.momentum!r}, {self.eps!r})[0]")
        y, mean, var = g.let(f"{call}({args}, True, {self.momentum!r}, {self.eps!r})", 3)
        g.set_buffer("running_mean", mean)
        g.set_buffer("running_var", var)
        return y

    def check_input(self, x) -> None:
        check_rows(self, x, None, self.dtype, rank=self.rank)
        if np.shape(x)[1] != self.num_features:
            raise CuparValueError(f"{self!r} takes {self.num_features} features (axis 1), "
                                  f"but the input has {np.shape(x)[1]}", caller_loc(), None)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(BatchNormNd):
    """torch.nn.BatchNorm1d over (batch, features): batch statistics in training (and the
    running statistics updated in the same step), the running ones in eval."""


class BatchNorm2d(BatchNormNd):
    """torch.nn.BatchNorm2d over NCHW images: statistics per channel."""
    call = "F.batch_norm2d"
    rank = 4
    takes_rows = True
