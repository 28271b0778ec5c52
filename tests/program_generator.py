"""Random well-typed cupar programs, for checking the compiled places against places.here
(test_random_programs.py).

`program(seed)` writes the source of a module whose `prog(x0, x1, y0, k0)` (x0, x1: i32[n];
y0: i64[m]; k0: an i32) uses most of the prelude: maps of lambdas, nested defs (some used at
two element types, so infer_types instantiates copies) and global @parallel functions (one a
tail-recursive loop), list comprehensions with `if`, zips and sequences of pairs, gathers and
scatters by permutations, scans, reductions, filters, sorts, shifts, rotations, conditionals
as expressions and as statements, tuple assignments, values nothing reads, and the same
lambda written twice in one expression.

Every program runs without error at `here` by construction: sequences zipped together have
one length (each value carries its length's class: the inputs', or a filter's own); an
index is taken modulo a length only where that length is not zero; scatters take
permutations; divisors are positive. Integers stay below LIMIT (each value carries a bound on
its magnitude, and a term that could pass it is first reduced modulo 1000), so int32
arithmetic never wraps. Floats (from `/`) never decide control flow or indices, so places
that round a sum differently still agree within a tolerance.
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
PARAMS = "x0, x1, y0, k0"


@dataclass(frozen=True)
class Val:
    """An expression's text, its element dtype ('i32', 'i64', 'f64', weak 'int' and
    'float', 'bool', or a tuple of two for pairs), a bound on its magnitude, and for a
    sequence its length's class ('n', 'm', or a filter's)."""
    text: str
    dtype: object
    bound: float
    length: str | None = None

    @property
    def is_float(self) -> bool:
        return self.dtype in ("f64", "float")

    @property
    def is_pair(self) -> bool:
        return isinstance(self.dtype, tuple)


INPUTS = (Val("x0", "i32", 9, "n"), Val("x1", "i32", 9, "n"), Val("y0", "i64", 9, "m"))
K0 = Val("k0", "i32", 5)
RANK = {"int": 0, "i32": 1, "i64": 2, "float": 3, "f64": 4}


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
    return max(a, b, key=RANK.get)


def strong(d: str) -> str:
    """The dtype a sequence of weak numbers takes."""
    return {"int": "i64", "float": "f64"}.get(d, d)


class Scope:
    """What an expression may read: numbers (lambda parameters, closure numbers), sequences,
    and the length class a map iterates over (closure sequences of that class are not
    empty while the lambda runs)."""

    def __init__(self, nums, seqs, cls=None, depth=0):
        self.nums, self.seqs, self.cls, self.depth = list(nums), list(seqs), cls, depth

    def inner(self, params, cls) -> "Scope":
        return Scope(self.nums + list(params), self.seqs, cls, self.depth + 1)


class Generator:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.count = 0
        self.lines: list[str] = []
        self.lambdas: list[tuple] = []  # (text, arity, param dtypes' floatness, result)
        self.defs: list[tuple] = []  # (name, param floatness, result Val factory)

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items):
        return self.rng.choice(list(items))

    # -- numbers ----------------------------------------------------------------------------
    def small(self, v: Val, limit: float = 10 ** 4) -> Val:
        """`v`, reduced modulo 1000 when its bound passes `limit` (floats are left alone)."""
        if v.bound <= limit or v.is_float:
            return v
        return Val(f"({v.text} % 1000)", v.dtype, 999)

    def number(self, sc: Scope, depth: int, integer: bool = False) -> Val:
        """A number expression; an integer one when `integer`."""
        nums = [v for v in sc.nums if not (integer and v.is_float)]
        if depth <= 0 or self.chance(0.2):
            if nums and self.chance(0.8):
                return self.pick(nums)
            return self.pick([Val(str(self.rng.randint(0, 6)), "int", 6), Val("G0", "int", 3)])
        kinds = ["arith"] * 4 + ["cond", "max", "cast", "divmod", "call", "reduce", "len"]
        if not integer:
            kinds.append("div")
        if sc.cls is not None:
            kinds.append("index")
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
            return Val(f"countdown({a.text}, {k})", promote(a.dtype, "int"), a.bound + k)
        usable = [d for d in self.defs if d[1] == a.is_float]
        if not usable:
            return a
        name, _, result = self.pick(usable)
        return result(a)

    def num_reduce(self, sc, depth, integer):
        seqs = [s for s in sc.seqs if not s.is_pair and not (integer and s.is_float)]
        if not seqs:
            return self.number(sc, depth, integer)
        s = self.pick(seqs)
        s = self.small_seq(s, LIMIT // NMAX)
        form = self.pick(["sum", "max", "reduce", "inner"] if sc.depth < 2 else ["sum", "max"])
        if form == "sum":
            return Val(f"sum({s.text})", s.dtype, s.bound * NMAX)
        if form == "max":
            return Val(f"({self.pick(['max', 'min'])}({s.text}) if len({s.text}) > 0 else "
                       f"{self.rng.randint(0, 5)})", promote(s.dtype, "int"), s.bound)
        if form == "reduce":
            op = self.pick(["op_add", "lambda a, b: a + b", "maximum"])
            init = f"{'float64' if s.is_float else {'i32': 'int32', 'i64': 'int64'}[s.dtype]}(0)"
            return Val(f"reduce({op}, {s.text}, {init})", s.dtype, s.bound * NMAX)
        w = Val(self.fresh("w"), s.dtype, s.bound)
        body = self.small(self.number(sc.inner([w], s.length), depth, integer))
        return Val(f"sum(map(lambda {w.text}: {body.text}, {s.text}))", strong(body.dtype),
                   body.bound * NMAX)

    def num_len(self, sc, depth, integer):
        if not sc.seqs:
            return Val("G0", "int", 3)
        return Val(f"len({self.pick(sc.seqs).text})", "int", NMAX)

    def num_index(self, sc, depth, integer):
        seqs = [s for s in sc.seqs if s.length == sc.cls and not s.is_pair
                and not (integer and s.is_float)]
        if not seqs:
            return self.number(sc, depth, integer)
        s, i = self.pick(seqs), self.number(sc, depth, True)
        return Val(f"{s.text}[{i.text} % len({s.text})]", s.dtype, s.bound)

    def same_dtype(self, a: Val, b: Val):
        """`a` and `b` cast to one dtype where they are strong and differ (a conditional's
        branches must agree)."""
        weak = ("int", "float")
        if a.dtype == b.dtype or a.dtype in weak or b.dtype in weak:
            return a, b
        if a.is_float or b.is_float:
            return (Val(f"float64({a.text})", "f64", a.bound),
                    Val(f"float64({b.text})", "f64", b.bound))
        return (Val(f"int64({a.text})", "i64", a.bound), Val(f"int64({b.text})", "i64", b.bound))

    def predicate(self, sc: Scope, depth: int) -> str:
        if depth > 0 and self.chance(0.2):
            a, b = self.predicate(sc, depth - 1), self.predicate(sc, depth - 1)
            return self.pick([f"({a} and {b})", f"({a} or {b})", f"(not {a})"])
        a, b = self.number(sc, depth, True), self.number(sc, depth, True)
        if self.chance(0.3):
            return f"({a.text} % 2 == 0)"
        return f"({a.text} {self.pick(['<', '<=', '>', '>=', '==', '!='])} {b.text})"

    # -- sequences --------------------------------------------------------------------------
    def small_seq(self, s: Val, limit: float) -> Val:
        if s.bound <= limit or s.is_float:
            return s
        q = self.fresh("q")
        return Val(f"map(lambda {q}: {q} % 1000, {s.text})", s.dtype, 999, s.length)

    def sequence(self, sc: Scope, depth: int, pairs: bool = False) -> Val:
        """A sequence expression (of pairs too when `pairs`)."""
        named = [s for s in sc.seqs if pairs or not s.is_pair]
        if depth <= 0 or self.chance(0.3):
            return self.pick(named)
        kinds = ["map"] * 4 + ["scan", "sort", "move", "gather", "scatter", "filter", "index",
                                "call", "replicate", "cond"]
        if pairs:
            kinds += ["zip"] * 2
        return getattr(self, "seq_" + self.pick(kinds))(sc, depth - 1, pairs)

    def like(self, sc: Scope, depth: int, s: Val, same_dtype: bool = False) -> Val:
        """A sequence of `s`'s length (and dtype, when `same_dtype`): `s` itself, a named one,
        or `s` moved about."""
        named = [t for t in sc.seqs if t.length == s.length and not t.is_pair
                 and (not same_dtype or t.dtype == s.dtype)]
        r = self.rng.random()
        if r < 0.3 or s.is_pair:
            return s
        if r < 0.6 and named:
            return self.pick(named)
        return self.moved(sc, depth, s)

    def moved(self, sc: Scope, depth: int, s: Val) -> Val:
        """`s` rearranged: sorted, shifted, rotated, or through a permutation."""
        form = self.pick(["sort", "shift", "rotate", "permute", "scatter"])
        if form == "sort":
            return Val(f"sort({self.comparison(s)}, {s.text})", s.dtype, s.bound, s.length)
        if form == "shift":
            fill = "(0, 0)" if s.is_pair else "0"
            return Val(f"shift({s.text}, {self.rng.randint(-3, 3)}, {fill})", s.dtype,
                       s.bound, s.length)
        if form == "rotate":
            return Val(f"rotate({s.text}, {self.rng.randint(-6, 6)})", s.dtype, s.bound,
                       s.length)
        perm = self.permutation(s)
        if form == "permute":
            return Val(f"permute({s.text}, {perm})", s.dtype, s.bound, s.length)
        return Val(f"scatter({s.text}, {perm}, {s.text})", s.dtype, s.bound, s.length)

    def permutation(self, s: Val) -> str:
        i, c = self.fresh("i"), self.rng.randint(0, 5)
        body = self.pick([f"({i} + {c}) % len({s.text})", f"len({s.text}) - 1 - {i}"])
        return f"map(lambda {i}: {body}, indices({s.text}))"

    def comparison(self, s: Val) -> str:
        if s.is_pair:
            a, b = self.fresh("a"), self.fresh("b")
            k = self.rng.randint(0, 1) if s.dtype[1] not in ("f64", "float") else 0
            return f"lambda {a}, {b}: {a}[{k}] < {b}[{k}]"
        if s.is_float or self.chance(0.6):
            return self.pick(["cmp_lt", "cmp_gt"])
        a, b, c = self.fresh("a"), self.fresh("b"), self.rng.randint(2, 4)
        return self.pick([f"lambda {a}, {b}: {a} < {b}", f"lambda {a}, {b}: {a} > {b}",
                          f"lambda {a}, {b}: ({a} % {c}) < ({b} % {c})"])

    def seq_map(self, sc, depth, pairs):
        s = self.sequence(sc, depth, pairs=True)
        if s.is_pair:
            return self.map_pairs(sc, s)
        if self.chance(0.1):
            return Val(f"map(op_neg, {s.text})", s.dtype, s.bound, s.length)
        usable = [d for d in self.defs if d[1] == s.is_float]
        if usable and self.chance(0.25):
            name, _, result = self.pick(usable)
            r = result(Val("", s.dtype, s.bound))
            return Val(f"map({name}, {self.small_seq(s, 1000).text})", strong(r.dtype),
                       r.bound, s.length)
        seqs = [s] + ([self.like(sc, depth, s)] if self.chance(0.4) else [])
        lam, body = self.lam(sc, seqs)
        form = self.rng.random()
        if form < 0.2:
            params = lam[len("lambda "):lam.index(":")]
            source = seqs[0].text if len(seqs) == 1 else \
                f"zip({', '.join(t.text for t in seqs)})"
            text = f"[{body.text} for {params} in {source}]"
        else:
            text = f"map({lam}, {', '.join(t.text for t in seqs)})"
        return Val(text, strong(body.dtype), body.bound, s.length)

    def lam(self, sc: Scope, seqs: list) -> tuple:
        """A lambda over elements of `seqs` (one length): its text and its body's Val. At the
        top level, a lambda made before for the same kinds of elements may come again (the
        same text twice is how `a0_1 is bound twice` was found)."""
        key = (tuple(t.is_float for t in seqs), seqs[0].length)
        if sc.depth == 0:
            again = [(text, body) for k, text, body in self.lambdas if k == key]
            if again and self.chance(0.3):
                return self.pick(again)
        params = [Val(self.fresh("v"), t.dtype, t.bound) for t in seqs]
        body = self.number(sc.inner(params, seqs[0].length), 3)
        text = f"lambda {', '.join(p.text for p in params)}: {body.text}"
        if sc.depth == 0:
            self.lambdas.append((key, text, body))
        return text, body

    def map_pairs(self, sc, s):
        a = Val(self.fresh("v"), s.dtype[0], s.bound)
        b = Val(self.fresh("v"), s.dtype[1], s.bound)
        body = self.number(sc.inner([a, b], s.length), 3)
        p = self.fresh("p")
        table = {a.text: f"{p}[0]", b.text: f"{p}[1]"}
        if self.chance(0.5) or not s.text.startswith("zip("):  # (a comprehension takes
            # a zip or one sequence of numbers)
            text = body.text
            for name, sub in table.items():
                text = replace_name(text, name, sub)
            return Val(f"map(lambda {p}: {text}, {s.text})", strong(body.dtype), body.bound,
                       s.length)
        return Val(f"[{body.text} for {a.text}, {b.text} in {s.text}]", strong(body.dtype),
                   body.bound, s.length)

    def seq_zip(self, sc, depth, pairs):
        s = self.sequence(sc, depth)
        t = self.like(sc, depth, s)
        return Val(f"zip({s.text}, {t.text})", (s.dtype, t.dtype), max(s.bound, t.bound),
                   s.length)

    def seq_scan(self, sc, depth, pairs):
        s = self.small_seq(self.sequence(sc, depth), LIMIT // NMAX)
        op = self.pick(["op_add", "lambda a, b: a + b"] if self.chance(0.8) else
                       ["maximum", "lambda a, b: a if a > b else b"])
        bound = s.bound * NMAX if "+" in op or "add" in op else s.bound
        form = self.pick(["scan", "rscan", "exclusive_scan", "exclusive_rscan"])
        init = "" if form in ("scan", "rscan") else "0, "
        return Val(f"{form}({op}, {init}{s.text})", s.dtype, bound, s.length)

    def seq_sort(self, sc, depth, pairs):
        return self.moved(sc, depth, self.sequence(sc, depth, pairs))

    def seq_move(self, sc, depth, pairs):
        return self.moved(sc, depth, self.sequence(sc, depth, pairs))

    def seq_gather(self, sc, depth, pairs):
        s = self.sequence(sc, depth, pairs)
        ints = [t for t in sc.seqs if t.length == s.length and not t.is_pair and not t.is_float]
        if ints and self.chance(0.5):
            t, v = self.pick(ints), self.fresh("v")
            return Val(f"gather({s.text}, map(lambda {v}: {v} % len({s.text}), {t.text}))",
                       s.dtype, s.bound, t.length)
        return Val(f"gather({s.text}, {self.permutation(s)})", s.dtype, s.bound, s.length)

    def seq_scatter(self, sc, depth, pairs):
        s = self.sequence(sc, depth)
        dest = self.like(sc, depth, s, same_dtype=True)
        return Val(f"scatter({s.text}, {self.permutation(s)}, {dest.text})", s.dtype,
                   max(s.bound, dest.bound), s.length)

    def seq_filter(self, sc, depth, pairs):
        s = self.sequence(sc, depth, pairs)
        cls = self.fresh("f")
        if s.is_pair or s.is_float:  # (floats never decide: the predicate reads the index
            # of a pair's first element, or of the position)
            if s.is_pair and s.dtype[0] not in ("f64", "float"):
                p = self.fresh("p")
                return Val(f"filter(lambda {p}: {p}[0] % 2 == 0, {s.text})", s.dtype, s.bound,
                           cls)
            i = self.fresh("i")
            pred = self.predicate(sc.inner([Val(i, "i64", NMAX)], None), 1)
            return Val(f"gather({s.text}, filter(lambda {i}: {pred}, indices({s.text})))",
                       s.dtype, s.bound, cls)
        v = Val(self.fresh("v"), s.dtype, s.bound)
        pred = self.predicate(sc.inner([v], s.length), 2)
        if self.chance(0.3):
            body = self.number(sc.inner([v], s.length), 2)
            return Val(f"[{body.text} for {v.text} in {s.text} if {pred}]", strong(body.dtype),
                       body.bound, cls)
        return Val(f"filter(lambda {v.text}: {pred}, {s.text})", s.dtype, s.bound, cls)

    def seq_index(self, sc, depth, pairs):
        s = self.sequence(sc, depth)
        if self.chance(0.5):
            return Val(f"indices({s.text})", "i64", NMAX, s.length)
        return Val(f"range(len({s.text}))", "i64", NMAX, s.length)

    def seq_call(self, sc, depth, pairs):
        s = self.small_seq(self.sequence(sc, depth), LIMIT // 4)
        k = self.small(self.number(sc, 1, True), LIMIT // 4)
        return Val(f"helper_seq({s.text}, {k.text})", promote(s.dtype, k.dtype),
                   s.bound + k.bound, s.length)

    def seq_replicate(self, sc, depth, pairs):
        s = self.sequence(sc, depth, pairs=True)
        v = self.number(sc, 2)
        return Val(f"replicate({v.text}, len({s.text}))", strong(v.dtype), v.bound, s.length)

    def seq_cond(self, sc, depth, pairs):
        s = self.sequence(sc, depth)
        t = self.like(sc, depth, s, same_dtype=True)
        pred = self.predicate(sc, 1)
        return Val(f"({s.text} if {pred} else {t.text})", s.dtype, max(s.bound, t.bound),
                   s.length)


def replace_name(text: str, name: str, new: str) -> str:
    """`text` with the identifier `name` replaced by `new` (not inside longer names)."""
    import re
    return re.sub(rf"\b{re.escape(name)}\b", new, text)
