"""Recurrent modules over whole sequences, with torch's names: `RNN` (tanh), `GRU`, `LSTM`,
one layer, batch_first. Each runs `cupar.nn.functional.rnn` / `gru` / `lstm`: the recurrence
as a loop (each step projecting its own input, see recurrent.py for why), whose derived
backward pass reads the states it recorded.

    model = nn.Sequential(nn.GRU(1, 64), nn.Linear(64, 10))   # x: (batch, steps, 1)

Unlike torch's, the module's output is the LAST hidden state (batch, hidden), what a
sequence classifier reads (torch: `output[:, -1]`, or `h_n[0]`); with `sequence=True` it is
every hidden state (batch, steps, hidden) (torch's `output`), for a layer stacked on it or a
`Linear` at every step. The initial state is zero.

    model = nn.Sequential(nn.LSTM(1, 64, sequence=True), nn.LSTM(64, 64), nn.Linear(64, 10))
Parameters have torch's names (`weight_ih_l0`, ...) with the weights stored (in, gates *
hidden), the transpose of torch's, as `Linear`'s; the gates in torch's order.
"""

from __future__ import annotations

import math

import numpy as np

from cupar.dsl.decorator import caller_loc
from cupar.errors import CuparValueError

from . import init
from .layers_api import check_rows
from .module import Module


class RecurrentBase(Module):
    gates = 1
    call = "F.rnn"

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True,
                 seed=None, dtype=np.float32, sequence: bool = False):
        super().__init__()
        if not batch_first:
            raise CuparValueError("cupar's recurrent layers take (batch, steps, features)",
                                  caller_loc(), "pass batch_first=True and batch-first data")
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, dtype
        self.sequence = bool(sequence)  # every hidden state, or the last
        rng = init.generator(seed)
        bound, width = 1.0 / math.sqrt(hidden_size), self.gates * hidden_size
        for name, shape in (("weight_ih_l0", (input_size, width)),
                            ("weight_hh_l0", (hidden_size, width)),
                            ("bias_ih_l0", (width,)), ("bias_hh_l0", (width,))):
            self.register_parameter(name, init.uniform(shape, bound, rng, dtype))

    def emit(self, g, x: str) -> str:
        if g.rank != 3:
            raise CuparValueError(f"{self!r} takes a sequence (batch, steps, features), but "
                                  f"the layer before it gives a {g.rank}-D batch",
                                  caller_loc(), "give the recurrent layer before it "
                                  "sequence=True, or put this layer first")
        g.rank = 3 if self.sequence else 2
        w_ih, w_hh = g.param("weight_ih_l0"), g.param("weight_hh_l0")
        b_ih, b_hh = g.param("bias_ih_l0"), g.param("bias_hh_l0")
        zero = f"{np.dtype(self.dtype).name}(0.0)"  # the initial state: zeros, the weights' type
        zeros = g.let(f"map(lambda r: map(lambda j: {zero}, range({self.hidden_size})), {x})")
        return g.let(self.run(x, zeros, w_ih, w_hh, b_ih, b_hh))

    def run(self, x, h0, w_ih, w_hh, b_ih, b_hh) -> str:
        call = self.call + ("_sequence" if self.sequence else "")
        return f"{call}({x}, {h0}, {w_ih}, {w_hh}, {b_ih}, {b_hh})"

    def check_input(self, x) -> None:
        check_rows(self, x, self.input_size, self.dtype, rank=3)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, batch_first=True" + \
            (", sequence=True" if self.sequence else "")


class RNN(RecurrentBase):
    """torch.nn.RNN with tanh."""


class GRU(RecurrentBase):
    """torch.nn.GRU (gates r, z, n)."""
    gates = 3
    call = "F.gru"


class LSTM(RecurrentBase):
    """torch.nn.LSTM (gates i, f, g, o); the output is the last hidden state h."""
    gates = 4
    call = "F.lstm"

    def run(self, x, h0, w_ih, w_hh, b_ih, b_hh) -> str:
        if self.sequence:
            return f"{self.call}_sequence({x}, {h0}, {h0}, {w_ih}, {w_hh}, {b_ih}, {b_hh})"
        return f"{self.call}({x}, {h0}, {h0}, {w_ih}, {w_hh}, {b_ih}, {b_hh})[0]"
