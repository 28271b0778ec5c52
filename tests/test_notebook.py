"""examples/quickstart.ipynb runs in a Jupyter kernel with the outputs it promises, and cupar
errors raised at decoration time show the user's code and the caret, no cupar frames: in
Jupyter, in IPython and in plain Python."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CUPAR_FRAME = re.compile(r"cupar[/\\](dsl|compiler|runtime|errors)")


def kernel_env() -> dict:
    """This process's environment, with the cupar under test first on the kernel's path."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def run_notebook(path: Path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    kernelspec = pytest.importorskip("ipykernel.kernelspec")
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class ThisInterpreter(KernelSpecManager):
        """Kernel "python3" is ipykernel on the interpreter running the tests."""

        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir=kernelspec.RESOURCES, **kernelspec.get_kernel_dict())

    notebook = nbformat.read(path, as_version=4)
    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())
    client = nbclient.NotebookClient(notebook, km=manager, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute(env=kernel_env())  # a cell raising unexpectedly raises CellExecutionError
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text_of(cell) -> str:
    """Everything a cell showed, as plain text (error tracebacks without colours)."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(ANSI.sub("", "\n".join(out.traceback)))
        else:
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def test_the_quickstart_notebook(tmp_path):
    cells = run_notebook(NOTEBOOK)
    define, here, rms, redefined, explain, error, fixed, gpu = cells
    assert text_of(define) == text_of(here) == "array([1., 3., 5., 7., 9.], dtype=float32)"
    assert text_of(rms) == "np.float32(2.4494898)"  # sqrt(30 / 5)
    assert text_of(redefined) == "np.float32(1.4142135)"  # sqrt(10 / 5): the new norm2
    assert text_of(fixed) == "array([ 0.,  1.,  3.,  6., 10.], dtype=float32)"

    html = "".join(o.data.get("text/html", "") for o in explain.outputs if "data" in o)
    assert not [o for o in explain.outputs if o.output_type == "stream"]  # no text too
    assert html.count("<details>") >= 5 and "<summary><code>infer_types</code>" in html
    assert "a * xi + yi" in html
    assert text_of(explain).startswith("<cupar.explain of axpy(f32, f32[N], f32[M]): source,")

    (shown,) = [o for o in error.outputs if o.output_type == "error"]
    assert shown.ename == "CuparSyntaxError"
    trace = text_of(error)
    assert "`for` loops are not part of the cupar language" in trace
    assert re.search(r"\n +for v in xs:\n +\^\n", trace)  # the user's line and the caret
    assert "----> 1 @parallel" in trace  # the user's cell, where the decorator ran
    assert not CUPAR_FRAME.search(trace), trace

    assert re.fullmatch(r"gpu0: \[1\. 3\. 5\. 7\. 9\.\]\n|gpu0 is not available here: .+\n",
                        text_of(gpu))


def test_an_unexpected_error_fails_the_run(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient.exceptions import CellExecutionError
    expected = nbformat.v4.new_code_cell("raise ValueError('expected')")
    expected.metadata["tags"] = ["raises-exception"]
    cells = [expected, nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "bad.ipynb")
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run_notebook(tmp_path / "bad.ipynb")


def test_explain_as_html_and_as_text(capsys, monkeypatch):
    import numpy as np

    import cupar
    from cupar.dsl import notebook
    from test_examples import load

    axpy, x = load("axpy").axpy, np.arange(3, dtype=np.float32)
    stages = cupar.explain(axpy, np.float32(2), x, x)
    printed = capsys.readouterr().out
    assert printed == "".join(f"=== {k} ===\n{v.rstrip()}\n\n" for k, v in stages.items())
    assert printed == f"{stages}\n" and isinstance(stages, dict)
    html = stages._repr_html_()
    assert html.count("<details>") == len(stages) and "axpy(f32, f32[N], f32[M])" in html
    assert "<pre>x &lt; y &amp;&amp; z</pre>" in notebook.stages_html("f", {"s": "x < y && z"})
    monkeypatch.setattr(notebook, "in_jupyter", lambda: True)  # there the value shows
    cupar.explain(axpy, np.float32(2), x, x)
    assert capsys.readouterr().out == ""


BAD = textwrap.dedent("""\
    from cupar import *

    @parallel
    def total(xs):
        t = 0
        for v in xs:
            t = t + v
        return t
    """)


def python(code: str, path: Path, **env) -> str:
    path.write_text(code)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          env={**kernel_env(), **env}, timeout=60)
    return ANSI.sub("", done.stdout + done.stderr)


def test_plain_python_shows_one_cupar_frame_at_most(tmp_path):
    trace = python(BAD, tmp_path / "user.py")
    assert re.search(r"user.py\", line 3, in <module>\n +@parallel", trace)
    assert re.search(r"\n +for v in xs:\n +\^\n", trace) and "hint:" in trace
    # the decorator's one `raise` line (plain Python always shows the raising frame)
    assert len(CUPAR_FRAME.findall(trace)) == 1, trace
    full = python(BAD, tmp_path / "user.py", CUPAR_TRACEBACK="full")
    assert "frontend.py" in full  # the front end's frames, for cupar's developers


IPYTHON = textwrap.dedent("""\
    {first}
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_cell('''{second}''')
    shell.run_cell('''{bad}''')
    shell.run_cell('''
    @parallel
    def double(xs):
        return map(lambda v: v + v, xs)

    double("ab")
    ''')
    """)


@pytest.mark.parametrize("order", ["cupar first", "shell first"])
def test_ipython_shows_no_cupar_frames(tmp_path, order):
    """At decoration and at call time, whether cupar or the shell came first."""
    pytest.importorskip("IPython")
    first, second = ("import cupar", "") if order == "cupar first" else ("", "import cupar")
    trace = python(IPYTHON.format(first=first, second=second, bad=BAD),
                   tmp_path / "ipython_user.py")
    assert "CuparSyntaxError" in trace and "----> 3 @parallel" in trace
    assert re.search(r"\n +for v in xs:\n +\^\n", trace)
    assert "CuparTypeError" in trace and '----> 5 double("ab")' in trace
    assert not CUPAR_FRAME.search(trace), trace
