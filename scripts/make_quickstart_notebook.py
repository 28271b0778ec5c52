"""Writes examples/quickstart.ipynb (without outputs): `python scripts/make_quickstart_notebook.py`.

The notebook is committed; this script is how it is edited. tests/test_notebook.py runs it and
checks its outputs, so a change here may need one there.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"

CELLS = [
    ("md", """# cupar in a notebook

Decorate a plain Python function with `@parallel`, write its body with data-parallel
primitives (`map`, `reduce`, `scan`, ...), and call it on NumPy arrays. The first call for
each combination of argument types compiles it; later calls reuse the compiled code."""),
    ("code", """import numpy as np
import cupar
from cupar import *

@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)

x = np.arange(5, dtype=np.float32)
y = np.ones(5, dtype=np.float32)
axpy(np.float32(2), x, y)"""),
    ("md", """The same call in the interpreter, `cupar.places.here`: the meaning of every
program, which every compiled place must agree with."""),
    ("code", """axpy(np.float32(2), x, y, target_place=cupar.places.here)"""),
    ("md", """Functions may call each other, and a cell run again (or a later cell)
may redefine them: the next call uses the new definition, in its callers too."""),
    ("code", """@parallel
def norm2(x):
    return sum(map(lambda v: v * v, x))

@parallel
def rms(x):
    return sqrt(norm2(x) / len(x))

rms(x)"""),
    ("code", """@parallel
def norm2(x):  # redefined: now the sum of absolute values, and rms follows
    return sum(map(lambda v: abs(v), x))

rms(x)"""),
    ("md", """`cupar.explain` shows every stage of compiling a call: the IR after each
compiler pass, the fused kernels and the generated Numba code. Click a stage to open it."""),
    ("code", """cupar.explain(axpy, np.float32(2), x, y)"""),
    ("md", """A construct cupar does not support is reported when the function is
defined, at the line and column of your code, with a hint; cupar's own frames are left
out (`CUPAR_TRACEBACK=full` shows them)."""),
    ("code-error", """@parallel
def running_total(xs):
    total = 0.0
    for v in xs:
        total = total + v
    return total"""),
    ("md", """Loops become primitives: a running total is a scan."""),
    ("code", """@parallel
def running_total(xs):
    return scan(op_add, xs)

running_total(x)"""),
    ("md", """`cupar.places.gpu0` runs the same code on an NVIDIA GPU through numba-cuda,
where one is available; results stay on the GPU until `np.asarray` asks for them."""),
    ("code", """gpu0 = cupar.places.gpu0
if gpu0.available:
    print("gpu0:", np.asarray(axpy(np.float32(2), x, y, target_place=gpu0)))
else:
    print("gpu0 is not available here:", gpu0.missing())"""),
]


def build() -> nbformat.NotebookNode:
    cells = []
    for kind, text in CELLS:
        if kind == "md":
            cells.append(new_markdown_cell(text))
        else:
            cell = new_code_cell(text)
            if kind == "code-error":  # Jupyter's tag: the error is expected, run on
                cell.metadata["tags"] = ["raises-exception"]
            cells.append(cell)
    for k, cell in enumerate(cells):
        cell.id = f"cell-{k:02d}"  # stable ids: the file changes only where a cell does
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


if __name__ == "__main__":
    nbformat.write(build(), NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
