"""The cpu place's engine: lower, generate Numba source, compile, cache, call.

Caches: in memory by the final Program's identity (one per function and argument types);
on disk, the generated module is written under the cache directory with a name that hashes
its source (which is a function of the IR of everything the call reaches and the argument
types), the cupar version and the Numba version; Numba's own `cache=True` keeps the machine
code beside it, so a second process starts warm. Lengths are run-time values: a new length
never recompiles.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import warnings
from pathlib import Path

import numpy as np
from numba.core.errors import NumbaWarning

from ...compiler.kernel_ir import KernelProgram
from ...compiler.lower import NotLowered, lower_to_kernels
from ...compiler.outputs import shape_functions, writing_into
from ..cache import (VERSION, cache_dir, compiling, discard_compiled, intact, load_module,
                     write_entry)
from ..dispatch import MISS, flatten_arg, located, rebuild, result_builder
from . import pool
from .codegen import SERIAL_BELOW, generate_source

_lock = threading.RLock()  # writing_into compiles under it


class Compiled:
    """A compiled entry function and what is needed to call it and read its errors."""

    def __init__(self, kernels: KernelProgram, source: str, module_path: Path):
        self.kernels, self.source, self.path = kernels, source, module_path
        try:
            module = load_module(module_path)
        except (EOFError, ValueError, ImportError, SyntaxError):  # a damaged .pyc
            discard_compiled(module_path)
            module = load_module(module_path, fresh=True)
        self.entry = getattr(module, kernels.entry.name)
        self.warm = False
        self._into: Compiled | None = None  # the variant writing into the caller's arrays
        self._serial: Compiled | None = None  # the variant small calls run
        self.is_serial = False  # this is that variant: every call runs it as it is
        self.out_params: tuple = ()

    def __call__(self, args: tuple, outs: list | None = None):
        """The call's value; `outs` (flat, one per result part, None where the caller gave
        none) are written into where the program allows, see `parts`."""
        return rebuild(iter(self.parts(args, outs)), self.kernels.result_type)

    def fast_call(self):
        """A function of the arguments for warm calls whose arguments are all arrays and
        scalars (what `quick_signature` keys): the value, or MISS for any other argument."""
        run = self.flat_runner()
        numbers = (int, float, bool)

        def call(args: tuple):
            # one pass: the flat arguments and the largest array (what `small` and `large`
            # ask of them); a training step's 18 arguments took 3.5 us in three passes
            flat, most, most_bytes = [], 0, 0
            for a in args:
                kind = type(a)
                if kind is np.ndarray:
                    if not a.flags.c_contiguous:
                        a = np.ascontiguousarray(a)
                    if a.size > most:
                        most = a.size
                    if a.nbytes > most_bytes:
                        most_bytes = a.nbytes
                elif kind not in numbers and not isinstance(a, np.generic):
                    return MISS
                flat.append(a)
            return run(flat, most, most_bytes)
        return call

    def flat_runner(self):
        """A function (flat arguments: contiguous arrays and scalars, their largest array's
        size and bytes) -> the value: the call after its arguments were looked at
        (`fast_call`, or a specialisation's generated code, which knows their types)."""
        build = result_builder(self.kernels.result_type)

        def run(flat: list, most: int, most_bytes: int):
            if self.is_serial:
                return build(self.invoke(flat))
            if most_bytes >= pool.POOL_FROM and pool.POOL.idle_cap > 0:  # `large`
                return build(self.run_flat(flat))  # (results into pooled memory)
            if most < SMALL_CALL:
                return build(self.serial().invoke(flat))
            return build(self.invoke(flat))
        return run

    def parts(self, args: tuple, outs: list | None = None) -> list:
        """The flat results. With `outs`, a result the program allocates at its top level is
        written straight into the caller's array when that array has the right shape, is
        contiguous and shares no memory with an argument; the caller copies the others."""
        flat = []
        for a in args:
            flatten_arg(a, flat)
        return self.run_flat(flat, outs)

    def run_flat(self, flat: list, outs: list | None = None) -> list:
        """`parts` for flattened arguments."""
        if self.is_serial:  # (results in fresh arrays: the caller copies into `outs`)
            return list(self.invoke(flat))
        if outs and any(o is not None for o in outs) and not overlapping(outs, flat):
            into = self.writing_into()
            if into.out_params:
                return list(into.invoke([*flat, *into.out_arrays(flat, outs)]))
        elif not outs and large(flat):  # big results into reused memory (see pool.py)
            into = self.writing_into()
            if into.out_params:
                return list(into.invoke([*flat, *into.out_arrays(flat)]))
        if small(flat):
            return list(self.serial().invoke(flat))
        return list(self.invoke(flat))

    def serial(self) -> "Compiled":
        """This program without parallel loops (compiled at the first small call): a call
        whose arguments all hold fewer than SMALL_CALL elements starts no threads, and
        its variant compiles several times faster than the parallel one."""
        if self._serial is None:
            with _lock:
                if self._serial is None:
                    launch_threads()
                    self._serial = compile_kernel_program(self.kernels, serial=True)
                    self._serial.is_serial = True
        return self._serial

    def invoke(self, flat: list):
        try:
            return self.first_call(flat) if not self.warm else self.entry(*flat)
        except (ValueError, IndexError) as exc:
            raise self.located(exc) from None

    def writing_into(self) -> "Compiled":
        """This program compiled to write its results, and its intermediate arrays, into
        arrays passed in (compiled at the first call with `out=` or with a large argument;
        `out_params` is empty when no array can be)."""
        with _lock:
            if self._into is None:
                kernels, params = writing_into(self.kernels, scratch=True)
                self._into = compile_kernel_program(kernels) if params else self
                self._into.out_params = params
                self._into.shapes = shape_functions(kernels, params)
            return self._into

    def out_arrays(self, flat: list, outs: list | None = None) -> list:
        """For each out parameter, the caller's array if it fits, else a fresh one."""
        arrays = []
        for p, shape_of in zip(self.out_params, self.shapes):
            shape = shape_of(*flat)
            out = outs[p.part] if outs and p.part is not None else None
            fits = (isinstance(out, np.ndarray) and out.shape == shape
                    and out.flags.c_contiguous and out.dtype == np.dtype(p.dtype))
            arrays.append(out if fits else pool.empty(shape, p.dtype))
        return arrays

    def first_call(self, flat: list):
        """The first call loads Numba's cached machine code or compiles (one process at a
        time, see `compiling`); a damaged Numba cache entry is discarded with a warning and
        the kernels are compiled afresh."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaWarning)  # Numba's advice on our code
            try:
                self.load_or_compile(flat)
            except (EOFError, OSError, pickle.UnpicklingError, AttributeError, ImportError):
                discard_compiled(self.path)
                module = load_module(self.path, fresh=True)
                self.entry = getattr(module, self.kernels.entry.name)
                self.load_or_compile(flat)
            parts = self.entry(*flat)
        self.warm = True
        return parts

    def load_or_compile(self, flat: list) -> None:
        """The entry's machine code for these arguments' types, before calling it: the
        lock is held for the compile, not the run."""
        with compiling(self.path):
            self.entry.compile(tuple(self.entry.typeof_pyval(a) for a in flat))

    def located(self, exc: Exception) -> Exception:
        return located(self.kernels, exc)


def compile_kernels(program) -> Compiled | str:
    """The compiled program, or the reason it cannot be compiled yet (a NotLowered text)."""
    try:
        kernels = lower_to_kernels(program)
    except NotLowered as exc:
        return str(exc)
    with _lock:
        return compile_kernel_program(kernels)


def helpers_fingerprint() -> str:
    """A hash of the runtime modules generated kernels import and compile into themselves:
    Numba's cache checks only the kernel module's own file, so a changed helper (the
    matrix product's loops) must give the kernels new names, or stale machine code is
    loaded."""
    digest = hashlib.sha256()
    for name in ("lib.py", "matmul.py", "blas.py", "vector_math.py"):
        try:
            digest.update((Path(__file__).parent / name).read_bytes())
        except OSError:
            pass
    return digest.hexdigest()[:16]


HELPERS = helpers_fingerprint()


def compile_kernel_program(kernels: KernelProgram, serial: bool = False) -> Compiled:
    """Generate, cache on disk and load (the caller holds `_lock`)."""
    source = generate_source(kernels, serial)
    digest = hashlib.sha256(f"{VERSION}\n{HELPERS}\n{source}".encode()).hexdigest()[:24]
    path = cache_dir() / f"k{digest}.py"
    if not intact(path, source):
        write_entry(path, source)
    return Compiled(kernels, source, path)


def launch_threads() -> None:
    """Start Numba's thread pool. A serial kernel may call parallel helpers (rows_of);
    loaded from the disk cache, it does not start the pool itself as a parallel kernel
    does, and a helper's parallel loop would then crash."""
    from numba.np.ufunc.parallel import _launch_threads
    _launch_threads()


SMALL_CALL = SERIAL_BELOW * 4  # elements of the largest argument of a call run serially


def small(flat: list) -> bool:
    """Whether every array argument holds fewer than SMALL_CALL elements: the parallel
    variant would run most of its loops' serial copies anyway, after starting its threads
    (a layer's 512 x 64 weights at batch 32 is such a call: a training step's matrix
    products there take tens of microseconds)."""
    for a in flat:
        if type(a) is np.ndarray and a.size >= SMALL_CALL:
            return False
    return True


def large(flat: list) -> bool:
    """Whether an argument is large enough that results of its size are worth pooling
    (checked before compiling the variant that takes its result arrays)."""
    return pool.POOL.idle_cap > 0 and any(
        isinstance(a, np.ndarray) and a.nbytes >= pool.POOL_FROM for a in flat)


def overlapping(outs: list, flat: list) -> bool:
    """Whether a caller's out array may share memory with an argument (NumPy's test of
    bounds): the results are then computed apart and copied in."""
    arrays = [a for a in flat if isinstance(a, np.ndarray)]
    return any(isinstance(o, np.ndarray) and np.may_share_memory(o, a)
               for o in outs for a in arrays)


