"""cupar in IPython and Jupyter: errors shown without cupar's frames, explain as HTML.

A cupar error's message already shows the user's line with a caret. IPython, though, shows
an error with the frames it passed through: every frame of cupar's front end for a
SyntaxError raised while a cell runs (which is what an unsupported construct is, at
decoration time), and the frames that re-raised it for other errors. So when cupar is
imported in an IPython shell, cupar errors reaching the shell go through a handler
(`InteractiveShell.set_custom_exc`) that drops cupar's frames, keeping the user's cells and
the message; with CUPAR_TRACEBACK=full, IPython shows them as it would have. A handler
the user installed is left alone.

IPython is never imported here: only a shell that is already running is used.
"""

from __future__ import annotations

import html
import sys
import types

from ..errors import CuparError, show_full_traceback

PACKAGE = __name__.split(".")[0]


def shell():
    """The running IPython shell, or None."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def in_jupyter() -> bool:
    """Whether this is a Jupyter kernel (whose outputs can be HTML)."""
    return getattr(shell(), "kernel", None) is not None


def install_traceback_handler() -> None:
    """Show cupar errors in the running IPython shell, if any, without cupar's frames."""
    ipython = shell()
    if ipython is not None and ipython.custom_exceptions in ((), (CuparError,)):
        ipython.set_custom_exc((CuparError,), show_cupar_error)


def show_cupar_error(ipython, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler: the traceback less cupar's frames."""
    if show_full_traceback():
        ipython.showtraceback(running_compiled_code=True)
        return None
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # for %debug, %tb
    stb = ipython.InteractiveTB.structured_traceback(etype, value, without_cupar_frames(tb),
                                                     tb_offset=tb_offset)
    ipython._showtraceback(etype, value, stb)
    return stb


def without_cupar_frames(tb):
    """A copy of the traceback `tb` without the frames of cupar's own modules."""
    kept = []
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if name != PACKAGE and not name.startswith(PACKAGE + "."):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def stages_html(title: str, stages: dict) -> str:
    """`explain`'s stages as collapsible HTML sections, one per stage."""
    sections = "".join(
        f"<details><summary><code>{html.escape(name)}</code></summary>"
        f"<pre>{html.escape(text.rstrip())}</pre></details>\n"
        for name, text in stages.items())
    return (f'<div class="cupar-explain"><p><b>cupar.explain</b> '
            f"<code>{html.escape(title)}</code></p>\n{sections}</div>")
