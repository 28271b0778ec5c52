"""Golden IR text: every stage of a few programs, compared with tests/golden/<name>.txt.

Run with CUPAR_UPDATE_GOLDEN=1 to rewrite the files after an intended change, then review the
diff like code.
"""

import os
import re
from pathlib import Path

import pytest

import cupar
from golden_programs import PROGRAMS

GOLDEN = Path(__file__).parent / "golden"


def render(fn, args) -> str:
    stages = cupar.explain(fn, *args, quiet=True)
    text = "\n\n".join(f"=== {stage} ===\n{body.rstrip()}" for stage, body in stages.items()
                       if stage != "numba")  # generated source names absolute paths
    return re.sub(r"# \S*golden_programs\.py", "# golden_programs.py", text) + "\n"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_golden_ir(name):
    fn, args = PROGRAMS[name]
    actual = render(fn, args)
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("CUPAR_UPDATE_GOLDEN") or not path.exists():
        path.write_text(actual)
    assert actual == path.read_text()


def test_stages_are_the_pipeline():
    from cupar.compiler.pipeline import PIPELINE
    fn, args = PROGRAMS["axpy"]
    stages = cupar.explain(fn, *args, quiet=True)
    assert list(stages) == ["source", "parse", *(p.name for p in PIPELINE), "kernels", "numba"]
