"""The compiler pipeline: one list of passes, each a name, a one-line doc and a pure function
`Program -> Program`. The verifier runs after every pass; `observe(name, program)` sees every
stage (that is how `cupar.explain` and `CUPAR_DUMP` print them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from ..errors import CuparError, InternalError
from .autodiff import Request, differentiate
from .frontend import parse_function
from .infer import infer_types
from .inline import inline_calls
from .ir import Function, Program
from .printer import format_program
from .resolve import resolve_globals
from .tailcalls import check_tail_calls
from .verify import verify


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[Program], Program]
    doc: str
    typed: bool  # whether its output must be fully typed


PIPELINE = [
    Pass("resolve_globals", resolve_globals,
         "give free names their meaning: prelude primitive, number, or @parallel function", False),
    Pass("check_tail_calls", check_tail_calls,
         "reject recursion that is not tail recursion", False),
    Pass("infer_types", infer_types,
         "infer types, instantiate polymorphic functions, specialise to the argument types", True),
    Pass("inline_calls", inline_calls,
         "inline calls of non-recursive @parallel functions, so fusion sees across them", True),
]
REFERENCE_STAGE = "infer_types"  # the typed program `places.here` interprets: the meaning


def differentiate_pass(request: Request) -> Pass:
    """The pass that turns a program into its derivative (cupar.grad, value_and_grad, vjp):
    it runs after the pipeline and, as it changes what the program computes, its output is
    the meaning `places.here` interprets from then on."""
    return Pass("differentiate", lambda program: differentiate(program, request),
                f"derive the {request.mode} with respect to arguments "
                f"{list(request.argnums)} (reverse mode: values recomputed, loop states "
                "recomputed from the first, no tape)", True)


def reference(stages: dict) -> Program:
    """The program that defines the meaning of a compiled call: the derivative where one was
    taken, else the typed program."""
    return stages.get("differentiate") or stages[REFERENCE_STAGE]


def describe() -> str:
    """The pipeline as text, one pass a line."""
    return "\n".join(f"{p.name:<18} {p.doc}" for p in PIPELINE)


def compile_program(program: Program, observe: Callable | None = None,
                    passes: list | None = None) -> dict[str, Program]:
    """Run every pass (`passes`, default PIPELINE), verifying after each; return every stage
    by name, in order (`parse` first). `observe(stage, program)` sees each stage as it is
    made."""
    verify(program, "parse", typed=False, resolved=False)
    stages = {"parse": program}
    if observe:
        observe("parse", program)
    for p in PIPELINE if passes is None else passes:
        try:
            program = p.run(program)
        except CuparError:
            raise
        except Exception as exc:  # a bug in the pass: say which, keep the cause chained
            raise InternalError(f"pass `{p.name}` failed: {type(exc).__name__}: {exc}") from exc
        verify(program, p.name, typed=p.typed)
        stages[p.name] = program
        if observe:
            observe(p.name, program)
    return stages


def dump_observer(setting: str | None = None) -> Callable | None:
    """An observer printing the stages CUPAR_DUMP names (`all`, or pass names, comma-separated)."""
    setting = os.environ.get("CUPAR_DUMP", "") if setting is None else setting
    wanted = {s.strip() for s in setting.split(",") if s.strip()}
    if not wanted:
        return None

    def observe(stage: str, program: Program) -> None:
        if "all" in wanted or stage in wanted:
            print(f"--- cupar: after {stage} ---\n{format_program(program)}\n", flush=True)
    return observe


__all__ = ["PIPELINE", "REFERENCE_STAGE", "Pass", "compile_program", "describe",
           "differentiate_pass", "dump_observer", "parse_function", "reference", "Function"]
