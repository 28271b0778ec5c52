"""Helpers the sort and GPU kernel tests share: exact comparisons of sorted numbers, and the
names of the kernels a call launches under Numba's CUDA simulator."""

from __future__ import annotations

import numpy as np


def bits(a):
    """The array's bits as unsigned integers: NaN payloads and the sign of zero compare."""
    a = np.asarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def stably_sorted(x, descending):
    """NumPy's stable sort with NaN last (first descending), equal numbers (both zeros
    among them) in input order either way."""
    nan = np.isnan(x) if x.dtype.kind == "f" else np.zeros(x.shape, bool)
    numbers = x[~nan]
    if descending:  # stable: ascending of the reversed numbers, reversed
        numbers = numbers[::-1][np.argsort(numbers[::-1], kind="stable")][::-1]
    else:
        numbers = numbers[np.argsort(numbers, kind="stable")]
    return np.concatenate([x[nan], numbers] if descending else [numbers, x[nan]])


def launched_kernels(monkeypatch) -> list:
    """The names of the kernels launched from now on (under the simulator only)."""
    from numba.cuda.simulator.kernel import FakeCUDAKernel
    names, call = [], FakeCUDAKernel.__call__

    def recording(self, *args):
        names.append(self.fn.__name__)
        return call(self, *args)
    monkeypatch.setattr(FakeCUDAKernel, "__call__", recording)
    return names
