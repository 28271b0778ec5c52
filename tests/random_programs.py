"""Random cupar programs as modules: the statements around program_generator.py's
expressions, and loading a program's source as @parallel code.

    source = program(seed)      # the text of a module defining prog(x0, x1, y0, m0, k0)
    prog = load(source)         # imported from a file of its own (cupar reads the source)
    prog(*inputs(seed, n))

The body is a few statements: sequences and numbers bound to names, tuple assignments,
nested defs (one a pair's unpacking), an if statement binding a name in both branches,
unzips; some values are never read. The result is a sequence, a number, a tuple of both, or
a zip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import re
import tempfile
from pathlib import Path

import numpy as np

from program_generator import (HEADER, INPUTS, K0, LIMIT, M0, NMAX, PARAMS, Generator, Scope,
                               Val)
from program_rows import Rows
from program_sequences import Sequences


class Writer(Rows, Sequences, Generator):
    """Writes the body of `prog`, statement by statement."""

    def __init__(self, rng: random.Random, long: bool = False):
        """`long`: for inputs of LONG elements (and m of M_LONG): no loops over long
        sequences inside loops over long sequences."""
        super().__init__(rng, LONG if long else NMAX, {"m"} if long else None)
        self.seqs, self.nums, self.rows = list(INPUTS), [K0], [M0]
        self.pair_defs: list[tuple] = []  # (name, result Val) of defs taking a pair
        self.captured: set[str] = set()  # names nested defs read (never assigned again)

    def scope(self) -> Scope:
        return Scope(self.nums, self.seqs, self.rows)

    def emit(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)

    def bind(self, v: Val, base: str = "t") -> Val:
        name = self.fresh(base)
        self.emit(f"{name} = {v.text}")
        named = Val(name, v.dtype, v.bound, v.length, v.row)
        self.named(v).append(named)
        return named

    def named(self, v: Val) -> list:
        """The list of names of `v`'s kind: rows, sequences, or numbers."""
        return self.rows if v.is_rows else self.seqs if v.length is not None else self.nums

    def statement(self) -> None:
        kind = self.pick(["seq"] * 4 + ["num"] * 2 + ["pair", "def", "if", "unzip", "rows",
                                                       "again"])
        getattr(self, "stmt_" + kind)()

    def stmt_seq(self) -> None:
        self.bind(self.sequence(self.scope(), 3, pairs=True))

    def stmt_again(self) -> None:
        """A name assigned again, `t = sort(cmp_lt, t)` (the front end renames it): to a
        value of the same length and dtype, so all said about the name stays true; never a
        name a nested def reads (Python would read the new value: a CuparSyntaxError)."""
        names = [s for s in self.seqs if not s.is_pair and s.text not in self.captured]
        if not names:
            return self.stmt_seq()
        s = self.pick(names)
        self.emit(f"{s.text} = {self.moved(self.scope(), 1, s).text}")

    def stmt_rows(self) -> None:
        self.bind(self.matrix(self.scope(), 2))

    def stmt_num(self) -> None:
        self.bind(self.number(self.scope(), 3))

    def stmt_pair(self) -> None:
        """`a, b = x, y`; often one of them is never read."""
        a = self.sequence(self.scope(), 3) if self.chance(0.5) else self.number(self.scope(), 3)
        b = self.sequence(self.scope(), 3) if self.chance(0.5) else self.number(self.scope(), 3)
        names = self.fresh("t"), self.fresh("t")
        self.emit(f"{names[0]}, {names[1]} = {a.text}, {b.text}")
        for name, v in zip(names, (a, b)):
            self.named(v).append(Val(name, v.dtype, v.bound, v.length))

    def stmt_unzip(self) -> None:
        pairs = [s for s in self.seqs if s.is_pair]
        if not pairs:
            return self.stmt_seq()
        s = self.pick(pairs)
        names = self.fresh("u"), self.fresh("u")
        self.emit(f"{names[0]}, {names[1]} = unzip({s.text})")
        for name, d in zip(names, s.dtype):
            self.seqs.append(Val(name, d, s.bound, s.length))

    def stmt_if(self) -> None:
        """A name bound in both branches of an if statement (the second a rearrangement of
        the first, so both have one type)."""
        sc = self.scope()
        s = self.sequence(sc, 2)
        other = self.moved(sc, 1, s)
        name = self.fresh("t")
        self.emit(f"if {self.predicate(sc, 1)}:")
        self.emit(f"{name} = {s.text}", 2)
        self.emit("else:")
        self.emit(f"{name} = {other.text}", 2)
        self.seqs.append(Val(name, s.dtype, s.bound, s.length))

    def stmt_def(self) -> None:
        """A nested def: of a number (some called at several dtypes, so instantiated more
        than once), of a pair it unpacks, or a tail-recursive loop."""
        start = len(self.lines)
        self.write_def()
        self.captured |= set(re.findall(r"[A-Za-z_]\w*", "\n".join(self.lines[start:])))

    def write_def(self) -> None:
        name, kind = self.fresh("f"), self.pick(["number", "number", "pair", "loop"])
        if kind == "loop":
            v, k, step = self.fresh("v"), self.fresh("k"), self.pick(["1", "k0", "G0"])
            self.emit(f"def {name}({v}, {k}):")
            self.emit(f"return {v} if {k} <= 0 else {name}({v} + {step}, {k} - 1)", 2)
            self.loops.append(name)
            return
        is_float = self.chance(0.3)
        d = "f64" if is_float else "iany"
        params = [Val(self.fresh("p"), d, 1000)] + \
            ([Val(self.fresh("p"), d, 1000)] if kind == "pair" else [])
        sc = self.scope().inner(params, None)
        if kind == "pair":
            pair = self.fresh("p")
            self.emit(f"def {name}({pair}):")
            self.emit(f"{params[0].text}, {params[1].text} = {pair}", 2)
        else:
            self.emit(f"def {name}({params[0].text}):")
        result = self.def_body(sc, is_float)
        if kind == "pair":
            self.pair_defs.append((name, is_float, result))
            return
        self.defs.append((name, is_float, lambda a, n=name, r=result:
                          Val(f"{n}({self.small(a, 1000).text})", r.dtype, max(r.bound, 1000))))

    def def_body(self, sc: Scope, is_float: bool) -> Val:
        """The lines of a def's body after its parameters: a local, maybe an early return;
        the returned value."""
        first = self.small(self.number(sc, 3))
        u = Val(self.fresh("u"), first.dtype, first.bound)
        self.emit(f"{u.text} = {first.text}", 2)
        sc = sc.inner([u], None)
        result = self.small(self.number(sc, 2))
        if not is_float and self.chance(0.4):  # (both returns cast to one dtype)
            early = self.small(self.number(sc, 2))
            cast = "float64" if early.is_float or result.is_float else "int64"
            self.emit(f"if {self.predicate(sc, 1)}:", 2)
            self.emit(f"return {cast}({early.text})", 3)
            result = Val(f"{cast}({result.text})", "f64" if cast == "float64" else "i64",
                         max(result.bound, early.bound))
        self.emit(f"return {result.text}", 2)
        return result

    def results(self) -> tuple[list, bool]:
        """The returned values (one, or two as a tuple or a zip): recent names more likely,
        so most work is live."""
        sc = self.scope()
        made = [s for s in self.seqs if s not in INPUTS][-2:]
        s = self.pick(made) if made and self.chance(0.8) else self.sequence(sc, 2, pairs=True)
        form = self.rng.random()
        if form < 0.1:
            return [self.matrix(sc, 1)], False
        if form < 0.5:
            return [s], False
        if form < 0.7:
            made = [v for v in self.nums if v is not K0]
            return [self.pick(made) if made and self.chance(0.5) else self.number(sc, 3)], False
        if form < 0.85 or s.is_pair:
            return [s, self.number(sc, 2)], False
        return [s, self.like(sc, 1, s)], True

    def returns(self) -> None:
        """The return statement, sometimes after an `if` (and an `elif`) returning values of
        the same types."""
        parts, zipped = self.results()
        if self.chance(0.8):
            return self.emit(f"return {joined(parts, zipped)}")
        sc = self.scope()
        parts = [self.cast_number(v) for v in parts]
        for k in range(self.rng.randint(1, 2)):
            self.emit(f"{'if' if k == 0 else 'elif'} {self.predicate(sc, 1)}:")
            self.emit(f"return {joined([self.same_type(sc, v) for v in parts], zipped)}", 2)
        self.emit(f"return {joined(parts, zipped)}")

    def cast_number(self, v: Val) -> Val:
        if v.length is not None:
            return v
        cast, d = ("float64", "f64") if v.is_float else ("int64", "i64")
        return Val(f"{cast}({v.text})", d, v.bound)

    def same_type(self, sc: Scope, v: Val) -> Val:
        """Another value of `v`'s type (numbers already cast to float64 or int64)."""
        if v.is_rows:
            return Val(f"rotate({v.text}, {self.rng.randint(1, 3)})", v.dtype, v.bound,
                       v.length, v.row)
        if v.length is not None:
            return self.moved(sc, 1, v)
        return self.cast_number(Val(self.number(sc, 2, not v.is_float).text, v.dtype, 0))

    def module(self) -> str:
        for _ in range(self.rng.randint(2, 6)):
            self.statement()
        self.returns()
        body = "\n".join(self.lines)
        return f"{HEADER}@parallel\ndef prog({PARAMS}):\n{body}\n"


def joined(parts: list, zipped: bool) -> str:
    text = ", ".join(v.text for v in parts)
    return f"zip({text})" if zipped else text

def program(seed: int, long: bool = False) -> str:
    """The source of a random module defining `prog(x0, x1, y0, m0, k0)`; `long`: one
    for long inputs (see Writer)."""
    return Writer(random.Random(seed), long).module()


def inputs(seed: int, n: int, m: int | None = None) -> tuple:
    """Arguments for `prog`: x0, x1: i32[n]; y0: i64[m]; m0: i32[n][m]; k0: i32; small
    values."""
    rng = np.random.default_rng(seed)
    m = (M_LONG if n > NMAX else rng.integers(0, NMAX + 1)) if m is None else m
    assert LIMIT < 2 ** 31

    def ints(shape, dtype=np.int32):
        return rng.integers(-9, 10, shape).astype(dtype)
    return ints(n), ints(n), ints(m, np.int64), ints((n, m)), np.int32(rng.integers(-5, 6))


# Long inputs: longer than the length below which loops run their serial copies, so the
# chunked parallel code runs. That length is 16384 (cpu/codegen.py SERIAL_BELOW), where the
# interpreter is slow; test_random_programs.py lowers it to LONG_SERIAL_BELOW, and calls the
# parallel variant even of calls with few elements (cpu.SMALL_CALL). m stays small, as loops
# inside loops may only go over it.
LONG, M_LONG, LONG_SERIAL_BELOW = 1031, 4, 512
FOLDER = Path(tempfile.mkdtemp(prefix="cupar_random_programs_"))


def load(source: str):
    """Import `source` from a file of its own and return its `prog`."""
    name = "randprog_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    path = FOLDER / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.prog
