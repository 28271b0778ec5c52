"""Random differentiable cupar programs, for checking cupar.grad against finite differences.

A hypothesis strategy draws a program from a small grammar: element expressions (arithmetic,
math, conditionals, maximum, a tail-recursive loop) inside maps with closures over scalars,
maps over matrix rows with inner sums, scans, shifts, rotations, gathers, sorts, filters and
reductions, combined into one float64 number. The program is written to a file (cupar reads
a function's source) and imported; a failing case shrinks to a small program, printed whole.

Parameters: x, y: f64[n]; w: f64; m: f64[n][3]; idx: i64[n], indices into x.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tempfile
from pathlib import Path

from hypothesis import strategies as st

PARAMS = "x, y, w, m, idx"
ARGNUMS = (0, 1, 2, 3)
CONSTS = ("0.5", "1.5", "2.0", "0.25")
HEADER = """import cupar
from cupar import *


@parallel
def loop(v, k):
    return v if k == 0 else loop(v * 0.75 + sin(v), k - 1)


"""


@st.composite
def element(draw, names: tuple, depth: int) -> str:
    """A float expression of the scalars `names`."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(names + CONSTS[:1]))
    a = draw(element(names, depth - 1))
    kind = draw(st.sampled_from(("add", "sub", "mul", "div", "exp", "log", "sqrt", "sin",
                                 "tanh", "sigmoid", "cond", "maximum", "square", "loop",
                                 "pow")))
    if kind in ("add", "sub", "mul", "cond", "maximum"):
        b = draw(element(names, depth - 1))
        if kind == "cond":
            c = draw(element(names, depth - 1))
            return f"({a} if {b} > {draw(st.sampled_from(CONSTS))} else {c})"
        if kind == "maximum":
            return f"maximum({a}, {b})"
        return f"({a} {dict(add='+', sub='-', mul='*')[kind]} {b})"
    return {"div": f"({a} / (1.0 + {a} * {a}))", "exp": f"exp(tanh({a}))",
            "log": f"log(1.0 + {a} * {a})", "sqrt": f"sqrt(1.0 + {a} * {a})",
            "sin": f"sin({a})", "tanh": f"tanh({a})", "sigmoid": f"sigmoid(3.0 * {a})",
            "square": f"({a} * {a})",
            "loop": f"loop({a}, 2)", "pow": f"(1.0 + {a} * {a}) ** 1.5"}[kind]


@st.composite
def sequence(draw, seqs: list, scalars: list) -> str:
    """A f64[n] expression from the sequences made so far."""
    kind = draw(st.sampled_from(("map1", "map2", "rows", "scan", "rscan", "xscan", "shift",
                                 "rotate", "gather", "sort", "index_map")))
    s, t = draw(st.sampled_from(seqs)), draw(st.sampled_from(seqs))
    if kind == "map1":
        body = draw(element(("a", *scalars), 3))
        return f"map(lambda a: {body}, {s})"
    if kind == "map2":
        body = draw(element(("a", "b", *scalars), 3))
        return f"map(lambda a, b: {body}, {s}, {t})"
    if kind == "rows":
        body = draw(element(("v", "c", *scalars), 2))
        return f"map(lambda r, c: sum(map(lambda v: {body}, r)), m, {s})"
    if kind == "index_map":
        body = draw(element(("v", *scalars), 2))
        return f"map(lambda i, v: {s}[(i + 1) % len({s})] * {body}, indices(x), x)"
    return {"scan": f"scan(op_add, {s})", "rscan": f"rscan(op_add, {s})",
            "xscan": f"exclusive_scan(op_add, w, {s})", "shift": f"shift({s}, 1, w)",
            "rotate": f"rotate({s}, 2)", "gather": f"gather({s}, idx)",
            "sort": f"sort(cmp_lt, {s})"}[kind]


@st.composite
def number(draw, seqs: list, scalars: list) -> str:
    s = draw(st.sampled_from(seqs))
    kind = draw(st.sampled_from(("sum", "max", "min", "index", "filter", "reduce", "mix")))
    if kind == "mix" and len(scalars) >= 2:
        a, b = draw(st.sampled_from(scalars)), draw(st.sampled_from(scalars))
        return f"({a} * {b} if {a} > {b} else {a} - {b})"
    return {"sum": f"sum({s})", "max": f"max({s})", "min": f"min({s})", "index": f"{s}[0]",
            "filter": f"sum(filter(lambda v: v > 0.0, {s}))", "reduce": f"reduce(op_add, {s}, w)",
            "mix": f"sum({s}) * w"}[kind]


@st.composite
def programs(draw) -> str:
    """The source of a module defining `prog(x, y, w, m, idx) -> f64`."""
    seqs, scalars, lines = ["x", "y"], ["w"], []
    for k in range(draw(st.integers(1, 4))):
        lines.append(f"s{k} = {draw(sequence(seqs, scalars))}")
        seqs.append(f"s{k}")
        if draw(st.booleans()):
            lines.append(f"t{k} = {draw(number(seqs, scalars))}")
            scalars.append(f"t{k}")
    terms = [draw(number(seqs, scalars)) for _ in range(draw(st.integers(1, 2)))]
    lines.append("return " + " + ".join(terms + scalars[1:]))
    body = "".join(f"    {line}\n" for line in lines)
    return f"{HEADER}@parallel\ndef prog({PARAMS}):\n{body}"


FOLDER = Path(tempfile.mkdtemp(prefix="cupar_grad_programs_"))


def load(source: str):
    """Import `source` from a file of its own and return its `prog`."""
    name = "gradprog_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    path = FOLDER / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.prog
