"""Random well-typed cupar programs, for checking the compiled places against places.here
(test_random_programs.py). This module makes number expressions; program_sequences.py,
program_rows.py and random_programs.py the rest.

A program is a module whose `prog(x0, x1, y0, m0, k0)` (x0, x1: i32[n]; y0: i64[m];
m0: i32[n][m]; k0: an i32) uses most of the prelude: maps of lambdas, nested defs (used at
several element types, so infer_types instantiates copies) and global @parallel functions
(one a tail-recursive loop), list comprehensions with `if`, zips and sequences of pairs,
gathers and scatters by permutations, scans, reductions, filters, sorts, shifts, rotations,
sequences made inside lambdas (loops in loops), rows (maps of rows, transposes, column sums,
matrix products), math and bitwise operators, conditionals as expressions and as
statements, tuple assignments, values nothing reads, and the same lambda written twice.

Every program runs without error at `here` by construction: sequences zipped together have
one length (each value carries its length's class: the inputs', or a filter's own); an
index is taken modulo a length only where that length is not zero; scatters take
permutations; divisors are positive. Integers stay below LIMIT (each value carries a bound on
its magnitude, and a term that could pass it is first reduced modulo 1000), so int32
arithmetic never wraps. Floats (from `/` and math) never decide control flow or indices, so
places that round a sum differently still agree within a tolerance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NMAX = 40  # the longest sequence: inputs are at most this long, and nothing is longer
LIMIT = 10 ** 8
HEADER = '''import cupar
from cupar import *

G0 = 3


@parallel
def helper_add(a, b):
    t = a * 2
    return t + b


@parallel
def helper_seq(xs, k):
    return map(lambda v: v + k, xs)


@parallel
def countdown(v, k):
    return v if k <= 0 else countdown(v + 1, k - 1)


'''
PARAMS = "x0, x1, y0, m0, k0"


@dataclass(frozen=True)
class Val:
    """An expression's text, its element dtype ('i32', 'i64', 'f64', weak 'int' and
    'float', 'iany' for an integer of a dtype not known here (a nested def's parameter), or
    a tuple of two for pairs), a bound on its magnitude, and for a sequence its length's
    class ('n', 'm', or a filter's)."""
    text: str
    dtype: object
    bound: float
    length: str | None = None
    row: str | None = None  # for a sequence of rows: the rows' length class

    @property
    def is_rows(self) -> bool:
        return self.row is not None

    @property
    def is_float(self) -> bool:
        return self.dtype in ("f64", "float")

    @property
    def is_pair(self) -> bool:
        return isinstance(self.dtype, tuple)


INPUTS = (Val("x0", "i32", 9, "n"), Val("x1", "i32", 9, "n"), Val("y0", "i64", 9, "m"))
M0 = Val("m0", "i32", 9, "n", "m")
K0 = Val("k0", "i32", 5)
RANK = {"int": 0, "i32": 1, "i64": 2, "iany": 2.5, "float": 3, "f64": 4}


def promote(a: str, b: str) -> str:
    """NumPy 2's promotion of the element dtypes (NEP 50: Python numbers are weak)."""
    if a == b:
        return a
    weak = {"int", "float"}
    if a in weak and b in weak:
        return "float"
    if a in weak:
        a, b = b, a
    if b in weak:
        return "f64" if b == "float" and a != "f64" else a
    if "f64" in (a, b):
        return "f64"
    return "iany" if "iany" in (a, b) else max(a, b, key=RANK.get)


def strong(d: str) -> str:
    """The dtype a sequence of weak numbers takes."""
    return {"int": "i64", "float": "f64"}.get(d, d)


def modulus(limit: float) -> int:
    """What a value is reduced modulo to keep it within `limit`."""
    return int(max(2, min(1000, limit)))


class Scope:
    """What an expression may read: numbers (lambda parameters, closure numbers), sequences
    (of numbers or pairs), sequences of rows, and the length class a map iterates over
    (closure sequences of that class are not empty while the lambda runs)."""

    def __init__(self, nums, seqs, rows=(), cls=None, depth=0):
        self.nums, self.seqs, self.rows = list(nums), list(seqs), list(rows)
        self.cls, self.depth = cls, depth

    def inner(self, params, cls, seqs=()) -> "Scope":
        """The scope of a lambda's body: `params` numbers, `seqs` sequences more."""
        return Scope(self.nums + list(params), self.seqs + list(seqs), self.rows, cls,
                     self.depth + 1)


class Generator:
    def __init__(self, rng: random.Random, nmax: int = NMAX, small_classes=None):
        """`nmax`: the longest sequence. `small_classes`: where not None, the only length
        classes a lambda may loop over (elements looping over long sequences would make a
        program with long inputs quadratic: too slow to interpret)."""
        self.rng, self.nmax, self.small_classes = rng, nmax, small_classes
        self.count = 0
        self.lines: list[str] = []
        self.lambdas: list[tuple] = []  # ((floatness of params, length class), text, body)
        self.defs: list[tuple] = []  # (name, param floatness, result Val factory)
        self.loops: list[str] = ["countdown"]  # tail-recursive functions of (v, k)

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def name(self, base: str, sc: Scope | None = None) -> str:
        """A lambda parameter's name: often a short one other lambdas use too, as people
        write them (the front end renames such names apart), never one `sc` sees."""
        if sc is not None and self.chance(0.5):
            seen = {v.text for v in sc.nums + sc.seqs + sc.rows}
            free = [n for n in (base, "v", "w", "a", "b") if n not in seen]
            if free:
                return free[0]
        return self.fresh(base)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items):
        return self.rng.choice(list(items))

    # -- numbers ----------------------------------------------------------------------------
    def small(self, v: Val, limit: float = 10 ** 4) -> Val:
        """`v`, reduced modulo min(1000, limit) when its bound passes `limit` (floats are
        left alone)."""
        if v.bound <= limit or v.is_float:
            return v
        k = modulus(limit)
        return Val(f"({v.text} % {k})", v.dtype, k - 1)

    def cheap(self, sc: Scope, s: Val) -> bool:
        """Whether an expression in `sc` may loop over `s`: at the top, in a lambda over
        short sequences, or over a short one (see `small_classes`). Loops are nested two
        deep at most, so that programs stay quick to interpret."""
        if sc.depth == 0 or s.length in (self.small_classes or ()):
            return True
        return sc.depth == 1 and self.small_classes is None

    def number(self, sc: Scope, depth: int, integer: bool = False) -> Val:
        """A number expression; an integer one when `integer`."""
        nums = [v for v in sc.nums if not (integer and v.is_float)]
        if depth <= 0 or self.chance(0.2):
            if nums and self.chance(0.8):
                return self.pick(nums)
            return self.pick([Val(str(self.rng.randint(0, 6)), "int", 6), Val("G0", "int", 3)])
        kinds = ["arith"] * 4 + ["cond", "max", "cast", "divmod", "call", "reduce", "reduce",
                                  "len", "bits", "where", "arg"]
        if not integer:
            kinds += ["div", "math"]
        if sc.cls is not None:
            kinds.append("index")
        if any(s.is_pair for s in sc.seqs):
            kinds.append("pair_reduce")
        kind = self.pick(kinds)
        return getattr(self, "num_" + kind)(sc, depth - 1, integer)

    def num_arith(self, sc, depth, integer):
        a, b = self.number(sc, depth, integer), self.number(sc, depth, integer)
        op = self.pick("+-*n")
        if op == "n":
            return Val(self.pick([f"(-{a.text})", f"abs({a.text})"]), a.dtype, a.bound)
        a, b = (self.small(a), self.small(b)) if op == "*" else \
            (self.small(a, LIMIT // 4), self.small(b, LIMIT // 4))
        d = promote(a.dtype, b.dtype)
        bound = a.bound * b.bound if op == "*" else a.bound + b.bound
        return Val(f"({a.text} {op} {b.text})", d, bound)

    def num_div(self, sc, depth, integer):
        a, b = self.number(sc, depth), self.number(sc, depth)
        return Val(f"({a.text} / (abs({b.text}) + 1))", promote(promote(a.dtype, "float"),
                                                                  b.dtype), a.bound)

    def num_divmod(self, sc, depth, integer):
        a, c = self.number(sc, depth, True), self.rng.randint(1, 5)
        if self.chance(0.5):
            return Val(f"({a.text} % {c})", a.dtype, c)
        return Val(f"({a.text} // {c})", a.dtype, a.bound)

    def num_cond(self, sc, depth, integer):
        p = self.predicate(sc, depth)
        a, b = self.same_dtype(self.number(sc, depth, integer), self.number(sc, depth, integer))
        return Val(f"({a.text} if {p} else {b.text})", promote(a.dtype, b.dtype),
                   max(a.bound, b.bound))

    def num_max(self, sc, depth, integer):
        a, b = self.number(sc, depth, integer), self.number(sc, depth, integer)
        d, bound = promote(a.dtype, b.dtype), max(a.bound, b.bound)
        if self.chance(0.5):
            return Val(f"{self.pick(['max', 'min'])}({a.text}, {b.text})", d, bound)
        a, b = self.same_dtype(a, b)
        cmp = self.pick(["<", "<=", ">", ">="])  # (the form: each operand twice)
        return Val(f"({a.text} if {a.text} {cmp} {b.text} else {b.text})", d, bound)

    def num_cast(self, sc, depth, integer):
        a = self.number(sc, depth, True)
        if not integer and self.chance(0.3):
            return Val(f"float64({a.text})", "f64", a.bound)
        return self.cast_int(a)

    def cast_int(self, a: Val) -> Val:
        name = self.pick(["int32", "int64"])
        return Val(f"{name}({a.text})", "i32" if name == "int32" else "i64", a.bound)

    def num_call(self, sc, depth, integer):
        a = self.small(self.number(sc, depth, integer))
        kind = self.pick(["helper", "loop", "def"])
        if kind == "helper":
            b = self.small(self.number(sc, depth, integer))
            return Val(f"helper_add({a.text}, {b.text})", promote(promote(a.dtype, "int"),
                                                                   b.dtype), 2 * a.bound + b.bound)
        if kind == "loop" and not a.is_float:
            k = self.rng.randint(0, 3)
            return Val(f"{self.pick(self.loops)}({a.text}, {k})", promote(a.dtype, "int"),
                       a.bound + 5 * k)
        usable = [d for d in self.defs if d[1] == a.is_float]
        if not usable:
            return a
        name, _, result = self.pick(usable)
        value = result(a)
        return a if integer and value.is_float else value

    def num_reduce(self, sc, depth, integer):
        seqs = [s for s in sc.seqs if not s.is_pair and not (integer and s.is_float)
                and self.cheap(sc, s)]
        if not seqs:
            return self.number(sc, depth, integer)
        s = self.pick(seqs)
        if self.chance(0.3) and (sc.depth == 0 or (sc.depth == 1 and self.small_classes is None)):
            s = self.sequence(sc, 1)  # a sequence made here (in a lambda: a loop in a loop)
            if integer and s.is_float:
                return self.number(sc, depth, integer)
        s = self.small_seq(s, LIMIT // self.nmax)
        form = self.pick(["sum", "max", "reduce", "inner"] if sc.depth < 2 else ["sum", "max"])
        if form == "sum":
            return Val(f"sum({s.text})", s.dtype, s.bound * self.nmax)
        if form == "max":
            return Val(f"({self.pick(['max', 'min'])}({s.text}) if len({s.text}) > 0 else "
                       f"{self.rng.randint(0, 5)})", promote(s.dtype, "int"), s.bound)
        if form == "reduce":
            op = self.pick(["op_add", "lambda a, b: a + b", "maximum"])
            init = {"f64": "float64(0)", "i32": "int32(0)", "i64": "int64(0)"}.get(s.dtype, "0")
            return Val(f"reduce({op}, {s.text}, {init})", s.dtype, s.bound * self.nmax)
        w = Val(self.name("w", sc), s.dtype, s.bound)
        body = self.small(self.number(sc.inner([w], s.length), depth, integer),
                          LIMIT // self.nmax)
        return Val(f"sum(map(lambda {w.text}: {body.text}, {s.text}))", strong(body.dtype),
                   body.bound * self.nmax)

    def num_bits(self, sc, depth, integer):
        a = self.small(self.number(sc, depth, True), 1000)
        b = self.small(self.number(sc, depth, True), 1000)
        op, k = self.pick(["&", "|", "^", "<<", ">>", "**"]), self.rng.randint(0, 3)
        if op in ("&", "|", "^"):  # (|a|, |b| <= 1000: the result fits in 11 bits)
            return Val(f"({a.text} {op} {b.text})", promote(a.dtype, b.dtype), 1024)
        if op == "**":
            return Val(f"({a.text} ** 2)", a.dtype, a.bound ** 2)
        return Val(f"({a.text} {op} {k})", a.dtype, a.bound * 2 ** k)

    def num_math(self, sc, depth, integer):
        a = self.number(sc, depth)
        d = promote(a.dtype, "float")
        form = self.pick(["sqrt", "exp", "log", "sin", "tanh", "sigmoid", "floor", "pow"])
        if form in ("sin", "tanh", "sigmoid"):
            return Val(f"{form}({a.text})", d, 1)
        return {"sqrt": Val(f"sqrt(abs({a.text}))", d, a.bound),
                "exp": Val(f"exp(tanh({a.text}))", d, 3),
                "log": Val(f"log(abs({a.text}) + 1)", d, a.bound),
                "floor": Val(f"floor({a.text} / 2.0)", d, a.bound),
                "pow": Val(f"pow(abs(tanh({a.text})), 1.5)", d, 1)}[form]

    def num_where(self, sc, depth, integer):
        p = self.predicate(sc, depth)
        a, b = self.number(sc, depth, integer), self.number(sc, depth, integer)
        return Val(f"{self.pick(['where', 'select'])}({p}, {a.text}, {b.text})",
                   promote(a.dtype, b.dtype), max(a.bound, b.bound))

    def num_arg(self, sc, depth, integer):
        seqs = [s for s in sc.seqs if not s.is_pair and not s.is_float  # (floats never
                and self.cheap(sc, s)]  # decide)
        if not seqs:
            return self.number(sc, depth, integer)
        s = self.pick(seqs)
        return Val(f"({self.pick(['argmax', 'argmin'])}({s.text}) if len({s.text}) > 0 else "
                   "0)", "i64", self.nmax)

    def num_pair_reduce(self, sc, depth, integer):
        """A field of a reduction of pairs (a tuple-valued fold)."""
        pairs = [s for s in sc.seqs if s.is_pair and self.cheap(sc, s)]
        if not pairs:
            return self.number(sc, depth, integer)
        p = self.small_seq(self.pick(pairs), LIMIT // self.nmax)
        op, init, bound = self.pair_fold(p)
        k = self.rng.randint(0, 1)
        if integer and p.dtype[k] in ("f64", "float"):
            return self.number(sc, depth, integer)
        return Val(f"reduce({op}, {p.text}, {init})[{k}]", p.dtype[k], bound)

    def num_len(self, sc, depth, integer):
        if not sc.seqs:
            return Val("G0", "int", 3)
        return Val(f"len({self.pick(sc.seqs).text})", "int", self.nmax)

    def num_index(self, sc, depth, integer):
        seqs = [s for s in sc.seqs if s.length == sc.cls and not s.is_pair
                and not (integer and s.is_float)]
        if not seqs:
            return self.number(sc, depth, integer)
        s, i = self.pick(seqs), self.number(sc, depth, True)
        return Val(f"{s.text}[{i.text} % len({s.text})]", s.dtype, s.bound)

    def same_dtype(self, a: Val, b: Val):
        """`a` and `b` cast to one dtype where they could differ (a conditional's branches
        must agree; a weak int goes with any integer)."""
        weak = ("int", "float")
        if a.dtype == b.dtype != "iany" or (a.is_float == b.is_float and (
                a.dtype in weak or b.dtype in weak)):
            return a, b
        cast, d = ("float64", "f64") if a.is_float or b.is_float else ("int64", "i64")
        return Val(f"{cast}({a.text})", d, a.bound), Val(f"{cast}({b.text})", d, b.bound)

    def predicate(self, sc: Scope, depth: int) -> str:
        if depth > 0 and self.chance(0.2):
            a, b = self.predicate(sc, depth - 1), self.predicate(sc, depth - 1)
            return self.pick([f"({a} and {b})", f"({a} or {b})", f"(not {a})"])
        ints = [t for t in sc.seqs if not t.is_pair and not t.is_float and self.cheap(sc, t)]
        if ints and self.chance(0.1):
            t = self.pick(ints)
            v = Val(self.name("v", sc), t.dtype, t.bound)
            p = self.predicate(sc.inner([v], t.length), depth - 1)
            return f"{self.pick(['any', 'all'])}(map(lambda {v.text}: {p}, {t.text}))"
        a, b = self.number(sc, depth, True), self.number(sc, depth, True)
        if self.chance(0.3):
            return f"({a.text} % 2 == 0)"
        return f"({a.text} {self.pick(['<', '<=', '>', '>=', '==', '!='])} {b.text})"
