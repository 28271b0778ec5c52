"""The sequence expressions of random programs (see program_generator.py for the numbers
and the invariants every expression keeps)."""

from __future__ import annotations

import re

from program_generator import LIMIT, Scope, Val, modulus, promote, strong


CASTS = {"i32": "int32", "i64": "int64", "f64": "float64"}


class Sequences:
    """Sequence expressions; mixed into program_generator.Generator."""

    def small_seq(self, s: Val, limit: float) -> Val:
        if s.bound <= limit or s.is_float or s.is_pair:  # (pairs: whatever, below)
            return s if not s.is_pair or s.bound <= limit else self.small_pairs(s, limit)
        q, k = self.fresh("q"), modulus(limit)
        return Val(f"map(lambda {q}: {q} % {k}, {s.text})", s.dtype, k - 1, s.length)

    def small_pairs(self, p: Val, limit: float) -> Val:
        q, k = self.name("q"), modulus(limit)
        fields = [f"{q}[{j}]" if d in ("f64", "float") else f"{q}[{j}] % {k}"
                  for j, d in enumerate(p.dtype)]
        return Val(f"map(lambda {q}: ({', '.join(fields)}), {p.text})", p.dtype, k - 1,
                   p.length)

    def sequence(self, sc: Scope, depth: int, pairs: bool = False) -> Val:
        """A sequence expression (of pairs too when `pairs`)."""
        named = [s for s in sc.seqs if pairs or not s.is_pair]
        if depth <= 0 or self.chance(0.3) or not self.cheap(sc, Val("", "", 0)):
            return self.pick(named)  # (no loops where loops may not nest deeper)
        kinds = ["map"] * 4 + ["scan", "sort", "move", "gather", "scatter", "filter", "index",
                                "call", "replicate", "cond", "histogram"]
        if pairs:
            kinds += ["zip"] * 2
        if sc.rows:
            kinds += ["from_rows"] * 2
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
        perm = self.permutation(s, sc)
        if form == "permute":
            return Val(f"permute({s.text}, {perm})", s.dtype, s.bound, s.length)
        return Val(f"scatter({s.text}, {perm}, {s.text})", s.dtype, s.bound, s.length)

    def permutation(self, s: Val, sc: Scope | None = None) -> str:
        """A permutation of `s`'s indices (through a named sequence of its length, if there
        is one, so programs do not grow by repeating `s`)."""
        named = self.top_classes().get(s.length) if not s.is_rows else None
        t = named.text if named is not None and self.chance(0.7) else s.text
        i, c = self.name("i", sc), self.rng.randint(0, 5)
        body = self.pick([f"({i} + {c}) % len({t})", f"len({t}) - 1 - {i}"])
        return f"map(lambda {i}: {body}, indices({t}))"

    def comparison(self, s: Val) -> str:
        # (its body reads only its parameters: any names do, and people use a and b)
        a, b = ("a", "b") if self.chance(0.5) else (self.fresh("a"), self.fresh("b"))
        if s.is_pair:
            k = self.rng.randint(0, 1) if s.dtype[1] not in ("f64", "float") else 0
            return f"lambda {a}, {b}: {a}[{k}] < {b}[{k}]"
        if s.is_float or self.chance(0.6):
            return self.pick(["cmp_lt", "cmp_gt"])
        c = self.rng.randint(2, 4)
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
        first = self.name("v", sc)
        params = [Val(first, seqs[0].dtype, seqs[0].bound)] + [
            Val(self.fresh("v"), t.dtype, t.bound) for t in seqs[1:]]
        body = self.number(sc.inner(params, seqs[0].length), 3)
        text = f"lambda {', '.join(p.text for p in params)}: {body.text}"
        if sc.depth == 0:
            self.lambdas.append((key, text, body))
        return text, body

    def map_pairs(self, sc, s):
        usable = [(n, r) for n, f, r in self.pair_defs
                  if f == (s.dtype[0] in ("f64", "float")) == (s.dtype[1] in ("f64", "float"))]
        if usable and s.bound <= 1000 and self.chance(0.3):
            name, result = self.pick(usable)
            return Val(f"map({name}, {s.text})", strong(result.dtype), result.bound, s.length)
        a = Val(self.name("v", sc), s.dtype[0], s.bound)
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
        if self.chance(0.2):
            return Val(f"enumerate({s.text})", ("i64", s.dtype), max(s.bound, self.nmax),
                       s.length)
        if self.chance(0.25):  # a map whose function returns a tuple
            v = Val(self.name("v", sc), s.dtype, s.bound)
            inner = sc.inner([v], s.length)
            a, b = self.number(inner, 2), self.number(inner, 2)
            return Val(f"map(lambda {v.text}: ({a.text}, {b.text}), {s.text})",
                       (strong(a.dtype), strong(b.dtype)), max(a.bound, b.bound), s.length)
        if self.chance(0.2):
            return self.pair_scan(sc, depth)
        t = self.like(sc, depth, s)
        return Val(f"zip({s.text}, {t.text})", (s.dtype, t.dtype), max(s.bound, t.bound),
                   s.length)

    def pair_fold(self, p: Val) -> tuple:
        """An associative operator on pairs of `p`'s elements, the initial value such a fold
        takes, and a bound on what it makes of n elements: sums, a maximum, or the first
        pair with the largest first field (only where floats would not decide)."""
        a, b = ("a", "b") if self.chance(0.5) else (self.fresh("a"), self.fresh("b"))
        zero = [CASTS.get(d, "int64") + "(0)" for d in p.dtype]
        if all(d in CASTS or d == "int" for d in p.dtype) and \
                p.dtype[0] not in ("f64", "float") and self.chance(0.3):
            return (f"lambda {a}, {b}: {a} if {a}[0] >= {b}[0] else {b}", f"({', '.join(zero)})",
                    p.bound)
        second = self.pick([f"{a}[1] + {b}[1]", f"max({a}[1], {b}[1])"])
        return (f"lambda {a}, {b}: ({a}[0] + {b}[0], {second})", f"({', '.join(zero)})",
                p.bound * self.nmax)

    def pair_scan(self, sc, depth):
        p = self.small_seq(self.sequence(sc, depth, pairs=True), LIMIT // self.nmax)
        if not p.is_pair:
            return p
        op, init, bound = self.pair_fold(p)
        if self.chance(0.5):
            return Val(f"{self.pick(['scan', 'rscan'])}({op}, {p.text})", p.dtype, bound,
                       p.length)
        return Val(f"{self.pick(['exclusive_scan', 'exclusive_rscan'])}({op}, {init}, "
                   f"{p.text})", p.dtype, bound, p.length)

    def seq_scan(self, sc, depth, pairs):
        s = self.small_seq(self.sequence(sc, depth), LIMIT // self.nmax)
        op = self.pick(["op_add", "lambda a, b: a + b"] if self.chance(0.8) else
                       ["maximum", "lambda a, b: a if a > b else b"])
        bound = s.bound * self.nmax if "+" in op or "add" in op else s.bound
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
            t, v = self.pick(ints), self.name("v", sc)
            return Val(f"gather({s.text}, map(lambda {v}: {v} % len({s.text}), {t.text}))",
                       s.dtype, s.bound, t.length)
        return Val(f"gather({s.text}, {self.permutation(s, sc)})", s.dtype, s.bound, s.length)

    def seq_scatter(self, sc, depth, pairs):
        s = self.sequence(sc, depth)
        dest = self.like(sc, depth, s, same_dtype=True)
        bound = max(s.bound, dest.bound)
        if self.chance(0.3):
            return Val(f"update({dest.text}, zip({self.permutation(s, sc)}, {s.text}))", s.dtype,
                       bound, s.length)
        return Val(f"scatter({s.text}, {self.permutation(s, sc)}, {dest.text})", s.dtype, bound,
                   s.length)

    def seq_histogram(self, sc, depth, pairs):
        """reduce_by_index into k bins, the bin of each value computed from another."""
        s = self.sequence(sc, depth)
        keys = [t for t in sc.seqs if t.length == s.length and not t.is_pair
                and not t.is_float]
        zero = {"i32": "int32(0)", "i64": "int64(0)", "f64": "float64(0)"}.get(s.dtype)
        if not keys or zero is None:
            return s
        k, t, v = self.rng.randint(1, 6), self.pick(keys), self.fresh("v")
        op = self.pick(["op_add", "maximum", "minimum"])
        s = self.small_seq(s, LIMIT // self.nmax)
        if self.small_classes is not None:
            self.small_classes.add(f"k{k}")
        return Val(f"reduce_by_index({op}, replicate({zero}, {k}), "
                   f"map(lambda {v}: {v} % {k}, {t.text}), {s.text})", s.dtype,
                   s.bound * self.nmax, f"k{k}")

    def seq_filter(self, sc, depth, pairs):
        s = self.sequence(sc, depth, pairs)
        cls = self.fresh("f")
        if self.small_classes is not None and s.length in self.small_classes:
            self.small_classes.add(cls)
        if s.is_pair or s.is_float:  # (floats never decide: the predicate reads the index
            # of a pair's first element, or of the position)
            if s.is_pair and s.dtype[0] not in ("f64", "float"):
                p = self.fresh("p")
                return Val(f"filter(lambda {p}: {p}[0] % 2 == 0, {s.text})", s.dtype, s.bound,
                           cls)
            i = self.fresh("i")
            pred = self.predicate(sc.inner([Val(i, "i64", self.nmax)], None), 1)
            return Val(f"gather({s.text}, filter(lambda {i}: {pred}, indices({s.text})))",
                       s.dtype, s.bound, cls)
        v = Val(self.name("v", sc), s.dtype, s.bound)
        pred = self.predicate(sc.inner([v], s.length), 2)
        if self.chance(0.3):
            body = self.number(sc.inner([v], s.length), 2)
            return Val(f"[{body.text} for {v.text} in {s.text} if {pred}]", strong(body.dtype),
                       body.bound, cls)
        return Val(f"filter(lambda {v.text}: {pred}, {s.text})", s.dtype, s.bound, cls)

    def seq_index(self, sc, depth, pairs):
        s = self.sequence(sc, depth)
        form = self.pick([f"indices({s.text})", f"range(len({s.text}))",
                          f"bounded_range(0, len({s.text}))", f"range(1, len({s.text}) + 1)"])
        return Val(form, "i64", self.nmax + 1, s.length)

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
    return re.sub(rf"\b{re.escape(name)}\b", new, text)
