"""`cupar.explain`: every stage of compiling one call, as text."""

from __future__ import annotations

import inspect

from ..compiler.printer import format_program
from ..errors import CuparTypeError
from ..compiler.kernel_ir import format_kernels
from . import places
from .decorator import ParallelFunction


def explain(fn, *args, quiet: bool = False) -> dict[str, str]:
    """Print and return the stages of compiling `fn(*args)`: the source, the parsed IR, the
    IR after each pass, the kernel IR with the fusion decisions (`kernels`), the generated
    Numba source (`numba`) and, where gpu0 is available, the generated CUDA source (`cuda`).

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
    compiled = places.cpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    if isinstance(compiled, str):
        stages["kernels"] = (f"# not compiled yet: {compiled}\n"
                             "# places.cpu interprets this program")
    else:
        stages["kernels"] = format_kernels(compiled.kernels)
        stages["numba"] = compiled.source
    if places.gpu0.available:  # the CUDA kernels and drivers, or why cpu runs it instead
        gpu = places.gpu0.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
        stages["cuda"] = (gpu.source if not isinstance(gpu, str) else
                          f"# not for the GPU yet: {gpu}\n# places.gpu0 runs this at cpu")
    if not quiet:
        for stage, text in stages.items():
            print(f"=== {stage} ===\n{text.rstrip()}\n")
    return stages
