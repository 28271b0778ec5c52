"""`DeviceArray`: a result of a gpu0 call, kept in GPU memory (imports no CUDA itself)."""

from __future__ import annotations

import numpy as np


class DeviceArray:
    """An array in GPU memory, returned by calls at gpu0. Passing it to another gpu0 call
    costs no copy; `np.asarray(d)` (or printing, indexing, iterating) copies it to the host.
    It exposes `__cuda_array_interface__`, so CuPy, PyTorch and Numba can use it in place.

    >>> d = cupar.places.gpu0.to_device(np.arange(4.0))   # doctest: +SKIP
    >>> np.asarray(axpy(2.0, d, d, target_place=cupar.places.gpu0))   # doctest: +SKIP
    array([0., 3., 6., 9.])
    """

    __slots__ = ("device",)

    def __init__(self, device):
        self.device = device

    @property
    def __cuda_array_interface__(self):
        return self.device.__cuda_array_interface__

    shape = property(lambda self: tuple(self.device.shape))
    dtype = property(lambda self: np.dtype(self.device.dtype))
    ndim = property(lambda self: len(self.device.shape))
    size = property(lambda self: int(np.prod(self.device.shape, dtype=np.int64)))

    def copy_to_host(self) -> np.ndarray:
        return self.device.copy_to_host()

    def __array__(self, dtype=None, copy=None):
        host = self.copy_to_host()
        return host if dtype is None else host.astype(dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index):
        return self.copy_to_host()[index]

    def __iter__(self):
        return iter(self.copy_to_host())

    def tolist(self) -> list:
        return self.copy_to_host().tolist()

    def __repr__(self) -> str:
        return f"DeviceArray({np.array2string(self.copy_to_host(), separator=', ')}, " \
               f"dtype={self.dtype})"
