"""Source locations and the errors users see.

Every message cupar shows a user has the same shape::

    examples/axpy.py:6:12: type error: cannot add f32 and i32 without a cast
        return map(lambda xi, yi: a * xi + yi, x, y)
                   ^
    hint: convert one side with float32(...) or int32(...)

The message templates live here (``MESSAGES``) so the wording of the whole catalogue can be read
in one place. Internal Python frames are hidden from users unless ``CUPAR_TRACEBACK=full``.
"""

from __future__ import annotations

import linecache
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A position in the user's source: 1-based line, 0-based column (as in Python's ast)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def source_line(self) -> str:
        return linecache.getline(self.file, self.line).rstrip("\n")


UNKNOWN = Loc("<unknown>", 0, 0)


def render(kind: str, message: str, loc: Loc | None, hint: str | None = None) -> str:
    """Format `file:line:col: kind: message`, the source line, a caret and a hint."""
    loc = loc or UNKNOWN
    lines = [f"{loc}: {kind}: {message}"]
    text = loc.source_line()
    if text:
        stripped = text.lstrip()
        indent = len(text) - len(stripped)
        lines.append("    " + stripped)
        lines.append("    " + " " * max(loc.col - indent, 0) + "^")
    if hint:
        lines.append(f"hint: {hint}")
    return "\n".join(lines)


class CuparError(Exception):
    """Base of every error cupar raises on purpose. `loc`, `message` and `hint` are kept apart
    so tests and tools can read them without parsing the text."""

    kind = "error"

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        self.message, self.loc, self.hint = message, loc, hint
        super().__init__(render(self.kind, message, loc, hint))

    def __str__(self) -> str:
        return render(self.kind, self.message, self.loc, self.hint)


class CuparSyntaxError(CuparError, SyntaxError):
    """Python syntax that the cupar language does not support."""

    kind = "unsupported syntax"

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None):
        CuparError.__init__(self, message, loc, hint)
        # SyntaxError's own fields, so tools that read them (IDEs, IPython) point at the line.
        if loc is not None:
            self.filename, self.lineno, self.offset = loc.file, loc.line, loc.col + 1
            self.text = loc.source_line()
        self.msg = str(self)

    def __str__(self) -> str:
        return CuparError.__str__(self)


class CuparTypeError(CuparError, TypeError):
    """An ill-typed program, or an argument of a type cupar cannot take."""

    kind = "type error"


class CuparNameError(CuparError, NameError):
    """A name that is defined nowhere the function can see."""

    kind = "name error"


class CuparValueError(CuparError, ValueError):
    """A well-typed program given values it cannot run on (ragged lengths, empty `min`)."""

    kind = "value error"


class CuparIndexError(CuparError, IndexError):
    """An index outside its sequence."""

    kind = "index error"


class SourceUnavailableError(CuparError, OSError):
    """The decorated function has no source text cupar can read."""

    kind = "no source"


class PlaceUnavailableError(CuparError, RuntimeError):
    """The chosen place cannot run here (no GPU, no numba-cuda)."""

    kind = "place unavailable"


class DeviceMemoryError(CuparError, MemoryError):
    """The GPU has no room for a call's arrays."""

    kind = "device memory error"


class InternalError(CuparError, RuntimeError):
    """A bug in cupar itself; the message names the pass that failed."""

    kind = "internal error"


class NotCompiledWarning(UserWarning):
    """A program the chosen place cannot compile yet runs another way: at cpu in the
    interpreter, at gpu0 at cpu. The answer is the same, only slower; the message says why.
    Silence it with `warnings.simplefilter("ignore", cupar.errors.NotCompiledWarning)`."""


def warn_not_compiled(name: str, loc: Loc | None, how: str, reason: str) -> None:
    """Warn, at the user's `def` line, that function `name` runs `how` because of `reason`."""
    import warnings
    loc = loc or UNKNOWN
    warnings.warn_explicit(f"{name}() {how} (same results, much slower): {reason}",
                           NotCompiledWarning, loc.file, loc.line)


def show_full_traceback() -> bool:
    return os.environ.get("CUPAR_TRACEBACK", "") == "full"


MESSAGES = {
    # syntax
    "loop": ("`{what}` loops are not part of the cupar language",
             "use map/reduce/scan over a sequence, or tail recursion for sequential loops"),
    "statement": ("the `{what}` statement is not supported inside @parallel",
                  "allowed statements: assignment, return, if/elif/else, nested def"),
    "expression": ("{what} is not supported inside @parallel",
                   "use names, numbers, arithmetic, calls, lambda, tuples, xs[i] and "
                   "list comprehensions"),
    "slice": ("slices are not supported", "use gather(xs, indices), shift or rotate"),
    "attribute": ("attribute access `{what}` is not supported",
                  "use a prelude function instead (len(xs), not xs.shape)"),
    "mutation": ("sequences are immutable; item assignment is not supported",
                 "build a new sequence with update(xs, pairs) or scatter(src, idx, xs)"),
    "no_return": ("not every path through {what} returns a value",
                  "end every branch with `return`, or give the `if` an `else`"),
    "bare_return": ("`return` needs a value", "return the result, e.g. `return xs`"),
    "expression_statement": ("an expression statement does nothing inside @parallel",
                             "cupar code has no side effects: assign the value to a name, "
                             "or return it"),
    "chained_assign": ("chained assignment is not supported inside @parallel",
                       "assign one target at a time: `a = x`, then `b = a`"),
    "decorated_def": ("decorators are not supported on a nested def",
                      "drop the decorator, or make it a module-level @parallel function"),
    "multi_index": ("multi-dimensional indexing `{what}` is not supported",
                    "index one level at a time: m[i][j]"),
    "keyword": ("keyword arguments are not supported in calls inside @parallel",
                "pass arguments by position"),
    "comprehension": ("only list comprehensions over one sequence or one zip(...) are supported",
                      "write [f(x) for x in xs] or [f(x, y) for x, y in zip(xs, ys)]"),
    "late_binding": ("`{what}` reads `{name}`, which is assigned again after `{what}` is "
                     "defined: Python would read the new value here, cupar the one before",
                     "give the new value another name, or define `{what}` after it"),
    "nonlocal_assign": ("`{what}` is assigned on only one path of the `if` on line {line}",
                        "assign it in both branches, or before the `if`"),
    "recursion": ("recursive call to `{what}` is not in tail position",
                  "cupar supports tail recursion only: make the call the returned value"),
    "params": ("{what} are not supported in cupar function parameters",
               "use plain positional parameters"),
    "constant": ("the constant {what} is not supported",
                 "cupar values are numbers, booleans, sequences and tuples of them"),
    # names
    "unknown_name": ("name `{what}` is not defined", "define it before use, or import it"),
    "no_attribute": ("`{what}` does not exist",
                     "use a prelude function or a @parallel function"),
    "plain_function": ("`{what}` is a plain Python function, which cupar cannot compile",
                       "decorate it with @parallel, or use a prelude function"),
    "bad_global": ("global `{what}` is a {kind}, which cupar cannot use",
                   "globals may be numbers or @parallel functions; pass data as arguments"),
    # calls and values
    "call_keyword": ("`{what}` takes its arguments by position, not by keyword (`{name}=`)",
                     "call it as {what}({params})"),
    "returns_function": ("a function cannot be returned as a value",
                         "return numbers, sequences or tuples"),
}


def message(key: str, **fields) -> tuple[str, str]:
    """The (message, hint) pair of catalogue entry `key`, filled with `fields`."""
    text, hint = MESSAGES[key]
    return text.format(**fields), hint.format(**fields)
