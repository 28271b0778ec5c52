"""The gpu0 place's engine: kernel IR -> numba-cuda module, device arrays, calls.

Imported only when gpu0 is used, after the place has checked that CUDA works. Results stay
on the device as `DeviceArray`s, which copy to the host only when asked (`np.asarray`,
indexing, printing). Arguments that are already on the device (cupar's DeviceArray, or any
object with `__cuda_array_interface__`: CuPy, PyTorch, Numba) are used in place; host arrays
are copied once per call. The generated module is cached on disk like the cpu place's, under
a name hashing its source and the launch shape; numba-cuda compiles its kernels on first use.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np
from numba import cuda
from numba.cuda.cudadrv.driver import CudaAPIError

from ...compiler.kernel_ir import KernelProgram
from ...compiler.lower import NotLowered, lower_to_kernels
from ...compiler.outputs import shape_functions, writing_into
from ...errors import DeviceMemoryError
from ..cache import VERSION, cache_dir, intact, load_module, write_entry
from ..dispatch import MISS, flatten_arg, located, rebuild, result_builder, simple_flat
from . import lib as cuda_lib
from .codegen import generate_cuda_source
from .device_array import DeviceArray
from .schemes import NotForGpu

_lock = threading.RLock()  # writing_into compiles under it


def to_device(value):
    """`value` as a Numba device array: device data in place, host data copied once."""
    if isinstance(value, DeviceArray):
        return value.device
    if hasattr(value, "copy_to_host"):  # a Numba (or simulated) device array
        return value
    if has_cuda_interface(value):
        return cuda.as_cuda_array(value)
    return cuda.to_device(np.ascontiguousarray(value))


class GpuCompiled:
    """A compiled entry function: its driver, and how to read its errors."""

    def __init__(self, kernels: KernelProgram, source: str, module):
        self.kernels, self.source = kernels, source
        self.entry = getattr(module, kernels.entry.name)
        self._into: GpuCompiled | None = None  # the variant writing into the caller's arrays
        self.out_params: tuple = ()

    def __call__(self, args: tuple, outs: list | None = None):
        return rebuild(iter(self.parts(args, outs)), self.kernels.result_type)

    def fast_call(self):
        """For warm calls whose arguments are all arrays (host or cupar device arrays) and
        scalars: the value, or MISS for any other argument (see cpu's `fast_call`)."""
        build = result_builder(self.kernels.result_type)

        parts_of = {DeviceArray: lambda a: a.device,
                    np.ndarray: lambda a: cuda.to_device(np.ascontiguousarray(a))}

        def call(args: tuple):
            flat = simple_flat(args, parts_of)
            if flat is None:
                return MISS
            try:
                with np.errstate(all="ignore"):
                    parts = self.entry(*flat)
            except Exception:
                cuda_lib.after_failed_launch()  # (the ordinary call then runs it again)
                raise
            return build([DeviceArray(p) if hasattr(p, "copy_to_host") else p for p in parts])
        return call

    def parts(self, args: tuple, outs: list | None = None) -> list:
        """The flat results (arrays as DeviceArrays). With `outs`, a map's output is written
        straight into the caller's device array when it fits and overlaps no argument (as
        at cpu); the caller copies the others."""
        flat = []
        for a in args:
            flatten_arg(a, flat, device_part)
        entry, given = self.entry, []
        if outs and any(is_device(o) for o in outs) and not overlapping(outs, flat):
            into = self.writing_into()
            if into.out_params:
                entry, given = into.entry, into.out_arrays(flat, outs)
        try:
            with np.errstate(all="ignore"):  # the driver's scalar code computes as NumPy does
                parts = list(entry(*flat, *(device for device, _ in given)))
        except Exception as exc:
            cuda_lib.after_failed_launch()
            if isinstance(exc, (ValueError, IndexError)):
                raise self.located(exc) from None
            if isinstance(exc, CudaAPIError):
                raise out_of_memory(exc) from None
            raise
        for (_, mine), p in zip(given, self.out_params):  # the caller's own objects back
            if mine is not None:
                parts[p.part] = mine
        return [DeviceArray(p) if hasattr(p, "copy_to_host") else p for p in parts]

    def writing_into(self) -> "GpuCompiled":
        """This program compiled to write results into device arrays passed in."""
        with _lock:
            if self._into is None:
                kernels, params = writing_into(self.kernels)
                self._into = self
                if params:
                    try:
                        self._into = compile_gpu_kernels(kernels)
                    except NotForGpu:
                        params = ()
                self._into.out_params = params
                self._into.shapes = shape_functions(kernels, params)
            return self._into

    def out_arrays(self, flat: list, outs: list) -> list:
        """(device array, the caller's object or None) for each out parameter: the caller's
        array where it fits, else a fresh one."""
        arrays = []
        for p, shape_of in zip(self.out_params, self.shapes):
            shape, out = tuple(int(d) for d in shape_of(*flat)), outs[p.part]
            fits = (is_device(out) and tuple(out.shape) == shape
                    and np.dtype(out.dtype) == np.dtype(p.dtype) and contiguous(out))
            arrays.append((to_device(out), out) if fits else (cuda_lib.empty(shape, p.dtype),
                                                               None))
        return arrays

    def located(self, exc: Exception) -> Exception:
        return located(self.kernels, exc)


def out_of_memory(exc: Exception) -> Exception:
    if "OUT_OF_MEMORY" in str(exc) or "out of memory" in str(exc).lower():
        return DeviceMemoryError(f"the GPU ran out of memory ({exc})", None,
                                 "use smaller inputs, or drop device arrays you no longer need")
    return exc


def compile_for_gpu(program, fastmath: bool = False) -> GpuCompiled | str:
    """The compiled program, or why the GPU cannot run it (a NotLowered or NotForGpu text).
    `fastmath`: fused multiply-adds and the rest of numba-cuda's fastmath (see codegen)."""
    try:
        return compile_gpu_kernels(lower_to_kernels(program), fastmath)
    except (NotLowered, NotForGpu) as exc:
        return str(exc)


def compile_gpu_kernels(kernels: KernelProgram, fastmath: bool = False) -> GpuCompiled:
    source = generate_cuda_source(kernels, cuda_lib.BLOCK, cuda_lib.RUN, cuda_lib.MATMUL,
                                  fastmath, cuda_lib.MAX_BLOCKS, cuda_lib.WARP)
    target = f"cuda-{cuda_lib.BLOCK}-{cuda_lib.MAX_BLOCKS}-{cuda_lib.SIMULATED}"
    digest = hashlib.sha256(f"{VERSION}\n{target}\n{source}".encode()).hexdigest()[:24]
    path = cache_dir() / f"g{digest}.py"
    with _lock:
        if not intact(path, source):
            write_entry(path, source)
        return GpuCompiled(kernels, source, load_module(path))


def device_part(value):
    """An argument's array part on the device, or None when it is no array."""
    return to_device(value) if is_array(value) else None


def is_device(value) -> bool:
    return isinstance(value, DeviceArray) or hasattr(value, "copy_to_host") or \
        has_cuda_interface(value)


def contiguous(value) -> bool:
    strides = to_device(value).strides
    itemsize, expected = np.dtype(value.dtype).itemsize, []
    for extent in reversed(tuple(value.shape)):
        expected.insert(0, itemsize)
        itemsize *= extent
    return tuple(strides) == tuple(expected) or value.size == 0


def span(value) -> tuple[int, int]:
    """The device bytes an array covers, as [start, end)."""
    device = to_device(value)
    interface = getattr(device, "__cuda_array_interface__", None)
    # the CUDA simulator's arrays have no interface: they are NumPy arrays in host memory
    start = interface["data"][0] if interface else device._ary.ctypes.data
    return start, start + device.size * np.dtype(device.dtype).itemsize


def overlapping(outs: list, flat: list) -> bool:
    """Whether a caller's device out array may share memory with a device argument."""
    spans = [span(a) for a in flat if is_device(a)]
    return any(lo < b_hi and b_lo < hi for o in outs if o is not None and is_device(o)
               for lo, hi in [span(o)] for b_lo, b_hi in spans)


def is_array(value) -> bool:
    return (isinstance(value, (np.ndarray, DeviceArray)) or hasattr(value, "copy_to_host")
            or has_cuda_interface(value))


def has_cuda_interface(value) -> bool:
    try:
        return value.__cuda_array_interface__ is not None
    except AttributeError:
        return False


def results_to_device(value):
    """A host result (of the cpu fallback) in gpu0's representation."""
    from ...dsl.values import TupleSeq
    if isinstance(value, tuple):
        return tuple(map(results_to_device, value))
    if isinstance(value, TupleSeq):
        return TupleSeq(map(results_to_device, value.columns), value.depth)
    if isinstance(value, np.ndarray):
        return DeviceArray(cuda.to_device(value))
    return value
