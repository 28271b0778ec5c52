"""Places: where a @parallel call runs.

`here` interprets (the executable specification), `cpu` is meant for multicore Numba code and
`gpu0` for CUDA. A place is a context manager setting the default place of the block (per
thread and per asyncio task, via contextvars); a call's `target_place=` overrides it.
"""

from __future__ import annotations

import abc
import contextvars
import importlib.util

from ..errors import PlaceUnavailableError
from ..compiler.pipeline import REFERENCE_STAGE
from .interpreter import Interpreter

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
    """Multicore CPU through Numba. Until the Numba back end lands, this place interprets
    the program after the last compiler pass (correct, not fast), which also keeps every
    optimising pass under test against `here`."""

    name = "cpu"

    def execute(self, stages: dict, args: tuple):
        return Interpreter(list(stages.values())[-1]).run(args)


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
