"""`cupar.explain`: every stage of compiling one call, as text (as HTML in Jupyter)."""

from __future__ import annotations

import inspect

from ..compiler.printer import format_program
from ..compiler.types import format_type
from ..errors import CuparTypeError
from ..compiler.kernel_ir import format_kernels
from . import notebook, places
from .decorator import ParallelFunction


class Explanation(dict):
    """The stages of `explain`, by name: a dict of texts that prints as `explain` prints
    it and shows in Jupyter as collapsible HTML sections."""

    def __init__(self, title: str, stages: dict):
        super().__init__(stages)
        self.title = title

    def __str__(self) -> str:
        return "".join(f"=== {stage} ===\n{text.rstrip()}\n\n"
                       for stage, text in self.items())[:-1]

    def _repr_html_(self) -> str:
        return notebook.stages_html(self.title, self)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython's plain-text form: a line, not the whole dict (the text was printed)."""
        printer.text(f"<cupar.explain of {self.title}: {', '.join(self)}>")


def explain(fn, *args, quiet: bool | None = None) -> Explanation:
    """Print and return the stages of compiling `fn(*args)`: the source, the parsed IR, the
    IR after each pass, the kernel IR with the fusion decisions (`kernels`), the generated
    Numba source (`numba`) and, where gpu0 is available, the generated CUDA source (`cuda`).
    In Jupyter nothing is printed (unless `quiet=False`): the returned stages show
    themselves as collapsible sections, as a cell's value or with `display(...)`.

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
    dims: dict = {}
    title = f"{fn.name}({', '.join(format_type(t, dims) for t in fn.argument_types(args))})"
    explanation = Explanation(title, stages)
    if not (notebook.in_jupyter() if quiet is None else quiet):
        print(explanation)
    return explanation
