"""Recurrent layers over whole sequences at cpu against PyTorch's CPU ones: the forward pass
and value_and_grad of (GRU or LSTM -> linear -> cross_entropy) at the mnist1d classifier's
sizes (batch 100, 40 steps, 1 feature, hidden 64, 10 classes), float32, against torch.nn.GRU /
LSTM (batch_first) forward, and forward + backward (+ an Adam step) with
torch.set_num_threads(2). The fastest and the median of many calls after warm-up; the
development machine is shared, so the fastest is the steadier number.

    python benchmarks/nn_recurrent.py [batch steps hidden]
"""

import builtins
import sys
import time

import numpy as np

import cupar
import cupar.nn.functional as F
from cupar import *  # noqa: F401,F403
from cupar.nn.recurrent import gru, lstm

B, T, H = map(int, sys.argv[1:4]) if len(sys.argv) > 3 else (100, 40, 64)
I, C = 1, 10


@parallel
def gru_loss(w_ih, w_hh, b_ih, b_hh, w_o, b_o, x, h0, y):
    return F.cross_entropy(F.linear(gru(x, h0, w_ih, w_hh, b_ih, b_hh), w_o, b_o), y, 0.0)


@parallel
def lstm_loss(w_ih, w_hh, b_ih, b_hh, w_o, b_o, x, h0, c0, y):
    h, c = lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return F.cross_entropy(F.linear(h, w_o, b_o), y, 0.0)


def timed(fn, repeat=15):
    fn()
    times = []
    for _ in builtins.range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return builtins.min(times) * 1e3, float(np.median(times)) * 1e3


def row(what, best, median):
    print(f"{what:44s} {best:8.2f} ms (median {median:7.2f})  {B / best * 1e3:9.0f} samples/s")


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    y = rng.integers(0, C, B)
    zeros = np.zeros((B, H), np.float32)
    w_o = (rng.standard_normal((H, C)) * 0.1).astype(np.float32)
    b_o = np.zeros(C, np.float32)
    import torch
    torch.set_num_threads(2)
    for name, k, layer, loss in (("GRU", 3, torch.nn.GRU, gru_loss),
                                 ("LSTM", 4, torch.nn.LSTM, lstm_loss)):
        w_ih, w_hh = ((rng.standard_normal(s) * 0.1).astype(np.float32)
                      for s in ((I, k * H), (H, k * H)))
        b_ih = b_hh = np.zeros(k * H, np.float32)
        states = (zeros,) if k == 3 else (zeros, zeros)
        fn = gru if k == 3 else lstm
        vg = cupar.value_and_grad(loss, (0, 1, 2, 3, 4, 5))
        args = (w_ih, w_hh, b_ih, b_hh, w_o, b_o, x, *states, y)
        start = time.perf_counter()
        vg(*args)
        print(f"{name}: value_and_grad compiled in {time.perf_counter() - start:.1f} s")
        row(f"cupar {name} forward", *timed(lambda: fn(x, *states, w_ih, w_hh, b_ih, b_hh)))
        row(f"cupar {name} value_and_grad", *timed(lambda: vg(*args)))
        net, head = layer(I, H, batch_first=True), torch.nn.Linear(H, C)
        opt = torch.optim.Adam([*net.parameters(), *head.parameters()], 1e-3)
        tx, ty = torch.tensor(x), torch.tensor(y)

        def forward():
            with torch.no_grad():
                net(tx)

        def backward():
            net.zero_grad(), head.zero_grad()
            out, _ = net(tx)
            torch.nn.functional.cross_entropy(head(out[:, -1]), ty).backward()

        def step():
            opt.zero_grad()
            out, _ = net(tx)
            torch.nn.functional.cross_entropy(head(out[:, -1]), ty).backward()
            opt.step()
        row(f"torch {name} forward", *timed(forward))
        row(f"torch {name} forward + backward", *timed(backward))
        row(f"torch {name} forward + backward + Adam", *timed(step))


if __name__ == "__main__":
    main()
