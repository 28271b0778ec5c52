"""The package's layering, read from the import statements of its source files:
compiler/ imports nothing from runtime/, neither back end imports the other, and what the
back ends share (runtime/*.py) imports neither."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "cupar"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, as an absolute dotted name."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offending(folder: str, forbidden: tuple[str, ...], files: str = "**/*.py") -> list[str]:
    bad = []
    for path in sorted((ROOT / folder).glob(files)):
        for module in imported_modules(path):
            if module.startswith(forbidden):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {module}")
    return bad


@pytest.mark.parametrize("folder, forbidden, files", [
    ("compiler", ("cupar.runtime",), "**/*.py"),
    ("runtime/cuda", ("cupar.runtime.cpu",), "**/*.py"),
    ("runtime/cpu", ("cupar.runtime.cuda",), "**/*.py"),
    ("runtime", ("cupar.runtime.cpu", "cupar.runtime.cuda"), "*.py"),
])
def test_layers_import_only_what_they_may(folder, forbidden, files):
    assert offending(folder, forbidden, files) == []


def test_the_layering_check_sees_relative_imports():
    path = ROOT / "runtime" / "cpu" / "engine.py"
    assert "cupar.runtime.cache" in imported_modules(path)
    assert "cupar.compiler.lower" in imported_modules(path)
