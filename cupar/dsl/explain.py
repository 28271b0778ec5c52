"""`cupar.explain`: every stage of compiling one call, as text."""

from __future__ import annotations

import inspect

from ..compiler.printer import format_program
from ..errors import CuparTypeError
from .decorator import ParallelFunction


def explain(fn, *args, quiet: bool = False) -> dict[str, str]:
    """Print and return the stages of compiling `fn(*args)`: the source, the parsed IR, and
    the IR after each pass (later: fusion groups, kernel IR and generated code).

    >>> stages = cupar.explain(axpy, np.float32(2), x, y)   # doctest: +SKIP
    >>> list(stages)                                         # doctest: +SKIP
    ['source', 'parse', 'resolve_globals', 'check_tail_calls', 'infer_types']
    """
    if not isinstance(fn, ParallelFunction):
        raise CuparTypeError(f"explain takes a @parallel function, not {fn!r}", None,
                             "decorate the function with @parallel first")
    stages = {"source": inspect.getsource(fn.fn)}
    fn.stages_for(fn.argument_types(args),
                   observe=lambda stage, program: stages.__setitem__(stage,
                                                                     format_program(program)))
    if not quiet:
        for stage, text in stages.items():
            print(f"=== {stage} ===\n{text.rstrip()}\n")
    return stages
