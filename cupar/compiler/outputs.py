"""Results written into arrays the caller passes (`f(..., out=buf)`), without a fresh array.

`writing_into` rewrites a kernel program's entry so that a result array it would allocate at
its top level, with a shape computed from the parameters alone, is taken as an extra
parameter instead. The caller can then check the array's shape before the call (it knows the
parameters) and the loop that follows the allocation writes straight into it. Results made
any other way (filters, scans, sorts, scalars, arrays with a data-dependent length) are left
as they are; the caller copies those into its arrays. The cpu place also has intermediate
arrays passed in (`scratch`), so that large ones come from its pool of reused memory.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

import numpy as np

from .kernel_ir import Alloc, Assign, KernelProgram


@dataclass(frozen=True)
class OutParam:
    part: int | None  # the position of the result among the entry's flat results (None:
    # an intermediate array, see `scratch`)
    param: str  # the entry's new parameter
    dtype: str  # NumPy dtype name
    shape: tuple  # expressions over the entry's parameters (and `np`)


def writing_into(program: KernelProgram, scratch: bool = False
                 ) -> tuple[KernelProgram, tuple[OutParam, ...]]:
    """The program with each eligible result allocation replaced by a parameter, and those
    parameters (none: the program is unchanged). With `scratch`, the other top-level
    allocations with such shapes become parameters too (`part` None): the caller can then
    give it reused memory for its intermediate arrays as well."""
    entry = program.entry
    parts = result_parts(entry.result)
    allocs = {s.name: (i, s) for i, s in enumerate(entry.body) if isinstance(s, Alloc)}
    outs: list[OutParam] = []
    body = list(entry.body)
    for part, name in enumerate(parts):
        if name not in allocs:
            continue
        index, alloc = allocs.pop(name)  # a result returned twice takes the first out
        if not uses_only(alloc.shape, set(entry.params)):
            continue
        param = f"cupar_out_{name}"
        outs.append(OutParam(part, param, alloc.dtype, alloc.shape))
        body[index] = Assign(name, param)
    for name, (index, alloc) in allocs.items() if scratch else ():
        if uses_only(alloc.shape, set(entry.params)):
            outs.append(OutParam(None, f"cupar_tmp_{name}", alloc.dtype, alloc.shape))
            body[index] = Assign(name, outs[-1].param)
    if not outs:
        return program, ()
    entry = replace(entry, params=(*entry.params, *(o.param for o in outs)), body=tuple(body))
    return replace(program, functions=(entry, *program.functions[1:])), tuple(outs)


def result_parts(result: str) -> list[str | None]:
    """The entry's flat results: a name where a result is a plain name, else None."""
    tree = ast.parse(result, mode="eval").body
    elems = tree.elts if isinstance(tree, ast.Tuple) else [tree]
    return [e.id if isinstance(e, ast.Name) else None for e in elems]


def uses_only(exprs, names: set) -> bool:
    """Whether the expressions read no name but `names` and `np`."""
    for expr in exprs:
        for node in ast.walk(ast.parse(expr, mode="eval")):
            if isinstance(node, ast.Name) and node.id not in names and node.id != "np":
                return False
    return True


def shape_functions(program: KernelProgram, outs: tuple) -> list:
    """For each out parameter, a Python function of the entry's other (flat) arguments giving
    the shape the result will have, so the caller can check its array before the call."""
    names = ", ".join(program.entry.params[:len(program.entry.params) - len(outs)])
    return [eval(f"lambda {names}: ({', '.join(o.shape)},)", {"np": np}) for o in outs]
