"""Places: where a @parallel call runs.

`here` interprets (the executable specification), `cpu` is meant for multicore Numba code and
`gpu0` for CUDA. A place is a context manager setting the default place of the block (per
thread and per asyncio task, via contextvars); a call's `target_place=` overrides it.
"""

from __future__ import annotations

import abc
import contextvars
import importlib.util
import threading

import numpy as np

from ..errors import CuparError, PlaceUnavailableError
from ..runtime.cpu import compile_kernels  # imports Numba: cpu is the default place
from ..compiler.pipeline import REFERENCE_STAGE
from .interpreter import Interpreter

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

    @abc.abstractmethod
    def execute(self, stages: dict, args: tuple):
        """Run a compiled function on `args` (already checked against its parameter types).
        `stages` holds the Program after every compiler pass, by pass name."""


class Interpreted(Place):
    """Runs the typed IR in the Python interpreter, primitive by primitive, with the
    reference implementations of the prelude. Slow, simple, and the definition of meaning."""

    name = "here"

    def execute(self, stages: dict, args: tuple):
        return Interpreter(stages[REFERENCE_STAGE]).run(args)


class Cpu(Place):
    """Multicore CPU through Numba: the program after the last pass is lowered to kernel IR
    and compiled with `numba.njit(parallel=True)`. Programs using a primitive the lowering
    does not handle yet are interpreted instead (correct, not fast); `compiled_or_reason`
    and `cupar.explain` say which."""

    name = "cpu"

    def __init__(self):
        self._compiled: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def compiled_or_reason(self, stages: dict):
        final = list(stages.values())[-1]
        with self._lock:
            if id(final) not in self._compiled:
                self._compiled[id(final)] = (final, compile_kernels(final))
            return self._compiled[id(final)][1]

    def execute(self, stages: dict, args: tuple):
        compiled = self.compiled_or_reason(stages)
        if isinstance(compiled, str):
            return Interpreter(list(stages.values())[-1]).run(args)
        try:
            return compiled(args)
        except CuparError:
            # Compiled code knows where it failed, not the values involved; on inputs small
            # enough, the interpreter replays the call to report the exact error.
            if sum(np.size(a) for a in args if isinstance(a, np.ndarray)) <= REPLAY_LIMIT:
                Interpreter(stages[REFERENCE_STAGE]).run(args)
            raise


class Gpu(Place):
    """An NVIDIA GPU through numba-cuda. Present without a GPU; using it then raises a
    PlaceUnavailableError naming what is missing."""

    name = "gpu0"

    @property
    def available(self) -> bool:
        return self.missing() is None

    def missing(self) -> str | None:
        if importlib.util.find_spec("numba") is None:
            return "numba is not installed"
        if importlib.util.find_spec("numba.cuda") is None:
            return "numba-cuda is not installed (pip install 'cupar[cuda]')"
        try:
            from numba import cuda
            if not cuda.is_available():
                return "no CUDA driver or GPU was found on this machine"
        except Exception as exc:  # a broken CUDA install reports itself many ways
            return f"CUDA could not be initialised ({exc})"
        return "the CUDA back end of cupar is not built yet"

    def execute(self, stages: dict, args: tuple):
        raise PlaceUnavailableError(f"cannot run on {self!r}: {self.missing()}", None,
                                    "run on cupar.places.cpu or cupar.places.here instead")


here, cpu, gpu0 = Interpreted(), Cpu(), Gpu()


def current() -> Place:
    stack = _stack.get()
    return stack[-1] if stack else cpu
