"""The error catalogue: one small program per mistake in `tests/errors/`.

Each catalogue file starts with a header naming what the mistake must produce::

    # expect: CuparSyntaxError
    # message: `while` loops are not part of the cupar language
    # at: while

and marks the offending line with a trailing `# <-` comment. The caret must sit under the
first occurrence of the `at:` fragment on that line. Mistakes found when the decorator runs
raise on import; the others need a call: the file then defines `CALL`, a function of no
arguments that makes the bad call (at the default place, as a user would).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import cupar.errors as errors

CATALOGUE = Path(__file__).parent / "errors"
MARK = "  # <-"
BASES = {"CuparSyntaxError": SyntaxError, "CuparTypeError": TypeError,
         "CuparValueError": ValueError, "CuparIndexError": IndexError,
         "CuparNameError": NameError}


@dataclass(frozen=True)
class Entry:
    path: Path
    expect: str
    message: str
    line: int  # 1-based
    col: int  # 0-based, as in cupar.errors.Loc


def parse_entry(path: Path) -> Entry:
    lines = path.read_text().splitlines()
    header = {}
    for text in lines:
        if not text.startswith("# "):
            break
        key, _, value = text[2:].partition(": ")
        header[key] = value.strip()
    marked = [n for n, text in enumerate(lines, 1) if MARK in text]
    assert len(marked) == 1, f"{path.name}: mark exactly one line with `{MARK}`"
    line = marked[0]
    col = lines[line - 1].find(header["at"])
    assert col >= 0, f"{path.name}: `at:` fragment not on line {line}"
    return Entry(path, header["expect"], header["message"], line, col)


ENTRIES = [parse_entry(p) for p in sorted(CATALOGUE.glob("*.py"))]


def load(path: Path):
    """Import a catalogue file as a fresh module (decoration-time errors raise here)."""
    name = f"cupar_catalogue_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def raised(path: Path) -> errors.CuparError:
    with pytest.raises(errors.CuparError) as info:
        module = load(path)
        module.CALL()
    return info.value


def caret_column(rendered: str, source_line: str) -> int:
    """Where the caret of a rendered error points, as a column of the source line."""
    stripped = source_line.strip()
    shown = rendered.splitlines()
    at = shown.index("    " + stripped)
    caret = shown[at + 1]
    assert caret.strip() == "^", rendered
    indent = len(source_line) - len(source_line.lstrip())
    return caret.index("^") - 4 + indent


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.path.stem for e in ENTRIES])
def test_catalogue_entry(entry: Entry):
    err = raised(entry.path)
    cls = getattr(errors, entry.expect)
    assert type(err) is cls, f"{type(err).__name__}: {err}"
    assert isinstance(err, BASES[entry.expect])
    assert entry.message in err.message, str(err)
    assert err.loc is not None, str(err)
    assert os.path.realpath(err.loc.file) == os.path.realpath(entry.path), str(err)
    assert (err.loc.line, err.loc.col) == (entry.line, entry.col), str(err)
    rendered = str(err)
    source_line = entry.path.read_text().splitlines()[entry.line - 1]
    assert rendered.splitlines()[0].endswith(err.message)
    assert caret_column(rendered, source_line) == entry.col, rendered
    assert any(line.startswith("hint: ") for line in rendered.splitlines()), rendered
    if isinstance(err, SyntaxError):  # the fields IDEs and IPython read
        assert (err.lineno, err.offset) == (entry.line, entry.col + 1)


def test_catalogue_is_large_and_distinct():
    assert len(ENTRIES) >= 30
    messages = [e.message for e in ENTRIES]
    assert len(set(messages)) == len(messages), "two catalogue entries share a message"
    assert all(messages), "every entry names a message fragment"
