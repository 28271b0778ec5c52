"""Places: where a @parallel call runs.

`here` interprets (the executable specification), `cpu` is meant for multicore Numba code and
`gpu0` for CUDA. A place is a context manager setting the default place of the block (per
thread and per asyncio task, via contextvars); a call's `target_place=` overrides it.
"""

from __future__ import annotations

import abc
import contextvars
import functools
import threading

import numpy as np

from ..errors import CuparError, PlaceUnavailableError, warn_not_compiled
from ..runtime.cpu.engine import compile_kernels  # imports Numba: cpu is the default
from ..runtime.dispatch import flatten_arg
from ..compiler.pipeline import reference
from ..runtime.cuda.device_array import DeviceArray
from .interpreter import Interpreter
from .values import TupleSeq

REPLAY_LIMIT = 1 << 20  # elements: inputs the interpreter may replay to explain an error
_stack: contextvars.ContextVar = contextvars.ContextVar("cupar_places", default=())


class Place(abc.ABC):
    name = "place"

    def __enter__(self):
        _stack.set(_stack.get() + (self,))
        return self

    def __exit__(self, *exc):
        _stack.set(_stack.get()[:-1])
        return False

    def __repr__(self) -> str:
        return f"cupar.places.{self.name}"

    available = True

    def prepare(self, value):
        """An argument as this place takes it (device arrays are copied to the host)."""
        return to_host(value)

    @abc.abstractmethod
    def execute(self, stages: dict, args: tuple):
        """Run a compiled function on `args` (already checked against its parameter types).
        `stages` holds the Program after every compiler pass, by pass name."""

    def execute_parts(self, stages: dict, args: tuple, outs: list) -> list:
        """The call's flat results, given the caller's out arrays (one per part, or None).
        Here: computed as usual, for the caller to copy in; a place may write into them."""
        parts: list = []
        flatten_arg(self.execute(stages, args), parts, array=lambda v: None)
        return parts


class Interpreted(Place):
    """Runs the typed IR in the Python interpreter, primitive by primitive, with the
    reference implementations of the prelude. Slow, simple, and the definition of meaning."""

    name = "here"

    def execute(self, stages: dict, args: tuple):
        return Interpreter(reference(stages)).run(args)


class Compiling(Place):
    """A place that compiles: one compiled program (or the reason there is none) per typed
    program, made once under a lock; a program without one runs another way (`fallback`
    says how), after a NotCompiledWarning on its first call."""

    fallback = "runs another way"

    def __init__(self):
        self._compiled: dict[int, tuple] = {}
        self._warned: set[int] = set()
        self._lock = threading.Lock()

    @abc.abstractmethod
    def compile(self, program):
        """The compiled program, or the reason it cannot be compiled (a str)."""

    def compiled_or_reason(self, stages: dict):
        final = list(stages.values())[-1]
        with self._lock:
            if id(final) not in self._compiled:
                self._compiled[id(final)] = (final, self.compile(final))
            return self._compiled[id(final)][1]

    def for_call(self, stages: dict):
        """`compiled_or_reason(stages)`, warning the first time a program has no compiled
        form."""
        compiled = self.compiled_or_reason(stages)
        final = list(stages.values())[-1]
        if isinstance(compiled, str) and id(final) not in self._warned:
            self._warned.add(id(final))  # `final` stays alive in the place's cache
            fn = final.functions[final.entry]
            warn_not_compiled(fn.name, fn.loc, self.fallback, compiled)
        return compiled

    def fast_call(self, stages: dict):
        """For warm calls: a function of the arguments giving the value, or MISS where it
        does not take them (then, and on any error, the caller takes the full path); None
        where the program is not compiled here."""
        compiled = self.for_call(stages)
        return None if isinstance(compiled, str) else compiled.fast_call()

    def flat_runner(self, stages: dict):
        """The compiled program's `flat_runner` (a call with flat arguments whose types the
        caller checked: `specialize`), or None where it has none."""
        compiled = self.for_call(stages)
        return getattr(compiled, "flat_runner", lambda: None)() \
            if not isinstance(compiled, str) else None

    def execute_parts(self, stages: dict, args: tuple, outs: list) -> list:
        compiled = self.for_call(stages)
        if isinstance(compiled, str):
            return super().execute_parts(stages, args, outs)
        return replaying_errors(stages, args, lambda: compiled.parts(args, outs))


class Cpu(Compiling):
    """Multicore CPU through Numba: the program after the last pass is lowered to kernel IR
    and compiled with `numba.njit(parallel=True)`. Programs using a primitive the lowering
    does not handle yet are interpreted instead (correct, not fast); `compiled_or_reason`
    and `cupar.explain` say which."""

    fallback = "runs in the interpreter at cpu"

    def __init__(self, name: str = "cpu", serial: bool = False):
        super().__init__()
        self.name, self.serial = name, serial

    def compile(self, program):
        compiled = compile_kernels(program)
        return compiled.serial() if self.serial and not isinstance(compiled, str) else \
            compiled

    def execute(self, stages: dict, args: tuple):
        compiled = self.for_call(stages)
        if isinstance(compiled, str):
            return Interpreter(list(stages.values())[-1]).run(args)
        return replaying_errors(stages, args, lambda: compiled(args))

    def subnormals_flushed(self, workers: bool = True):
        """A context manager inside which subnormal floats read or made by this thread
        and Numba's threads count as zero (x86's FTZ and DAZ; elsewhere it changes
        nothing). An x86 core handles each vector instruction meeting one about a hundred
        times slower, and training makes them (underflowing softmax probabilities,
        decaying momentum): cupar.nn's training steps run inside it. Results then differ
        from here's where a value falls below the dtype's smallest normal number
        (1.2e-38 in float32). `workers=False` leaves Numba's threads as they are (setting
        them costs two parallel launches, 10-15 us), for calls that run on this thread
        alone: small calls, cpu_serial. See cupar/runtime/cpu/fpenv.py."""
        from ..runtime.cpu.fpenv import flushing
        return flushing(workers)


class Gpu(Compiling):
    """An NVIDIA GPU through numba-cuda (or Numba's CUDA simulator when
    NUMBA_ENABLE_CUDASIM=1). Present without a GPU: `available` is then False and using it
    raises a PlaceUnavailableError naming what is missing. Results stay on the device
    (`cupar.runtime.device_array.DeviceArray`) until the host asks for them. Programs the
    CUDA back end cannot compile yet run at cpu, their results copied to the device;
    `compiled_or_reason` and `cupar.explain` say which.

    Floating point: gpu0 computes each float operation in the program's types and rounds
    it as NumPy does, so a map's results agree bit for bit with here and cpu (reductions
    and matrix products sum in another order; math functions are CUDA's). In particular it
    never fuses a product and a sum into one multiply-add, which NVVM does by default.
    `gpu0_fastmath` is the same GPU with numba-cuda's fastmath: fused multiply-adds,
    subnormals flushed to zero, approximate division and square root."""

    fallback = "runs at cpu, not gpu0"

    def __init__(self, name: str = "gpu0", fastmath: bool = False):
        super().__init__()
        self.name, self.fastmath = name, fastmath
        self._missing: str | None = "unknown"

    @property
    def available(self) -> bool:
        return self.missing() is None

    def missing(self) -> str | None:
        """None when gpu0 can run code (a probe kernel compiled and ran correctly, once a
        process), else what is missing or broken, with the versions involved."""
        if self._missing == "unknown":
            self._missing = cuda_missing()
        return self._missing

    def prepare(self, value):
        return value  # device arrays stay where they are

    def to_device(self, array) -> DeviceArray:
        """A copy of `array` in GPU memory, for calls that should not copy it again."""
        self.require()
        from ..runtime.cuda.engine import to_device
        return DeviceArray(to_device(np.asarray(array)))

    def synchronize(self) -> None:
        """Wait until the GPU has finished the work launched so far (for timing)."""
        self.require()
        from numba import cuda
        cuda.synchronize()

    def require(self) -> None:
        if self.missing() is not None:
            raise PlaceUnavailableError(f"cannot run on {self!r}: {self.missing()}", None,
                                        "run on cupar.places.cpu or cupar.places.here instead")

    def compiled_or_reason(self, stages: dict):
        self.require()
        return super().compiled_or_reason(stages)

    def compile(self, program):
        from ..runtime.cuda.engine import compile_for_gpu
        return compile_for_gpu(program, self.fastmath)

    def execute(self, stages: dict, args: tuple):
        compiled = self.for_call(stages)
        if isinstance(compiled, str):  # not for the GPU yet: cpu, results moved over
            from ..runtime.cuda.engine import results_to_device
            return results_to_device(cpu.execute(stages, tuple(map(to_host, args))))
        return replaying_errors(stages, args, lambda: compiled(args))


def replaying_errors(stages: dict, args: tuple, call):
    """`call()`; when compiled code raises a cupar error, which knows where it failed but not
    the values involved, the interpreter replays the call on inputs small enough to report
    the exact error."""
    try:
        return call()
    except CuparError:
        host = tuple(map(to_host, args))
        if sum(np.size(a) for a in host if isinstance(a, np.ndarray)) <= REPLAY_LIMIT:
            Interpreter(reference(stages)).run(host)
        raise


@functools.cache
def cuda_missing() -> str | None:
    from ..runtime.cuda.probe import missing  # a probe kernel, compiled and run once
    return missing()


def to_host(value):
    """A device array as a NumPy array (tuples and sequences of tuples too)."""
    if type(value) is np.ndarray:
        return value
    if isinstance(value, tuple):
        return tuple(map(to_host, value))
    if isinstance(value, TupleSeq):
        return TupleSeq(map(to_host, value.columns), value.depth)
    if hasattr(value, "copy_to_host"):
        return value.copy_to_host()
    if hasattr(value, "__cuda_array_interface__"):
        from numba import cuda
        return cuda.as_cuda_array(value).copy_to_host()
    return value


here, cpu, gpu0 = Interpreted(), Cpu(), Gpu()
# cpu on one thread: every call runs the program's variant without parallel loops, which cpu
# runs only for calls whose arguments are all small. For calls whose work is small although
# an argument is large: cupar.nn's training runs take the whole data set and train on a
# batch of it at a time.
cpu_serial = Cpu("cpu_serial", serial=True)
gpu0_fastmath = Gpu("gpu0_fastmath", fastmath=True)


def current() -> Place:
    stack = _stack.get()
    return stack[-1] if stack else cpu
