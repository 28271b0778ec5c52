"""Sequences of rows in random programs: maps making rows and maps over them, transposes,
column sums and running column sums, matrix products, rows moved about and filtered (see
program_generator.py for the invariants every expression keeps). Every row of a value has
one length, a class the program also has a sequence of, so a zero row can be made."""

from __future__ import annotations

from program_generator import LIMIT, Scope, Val, modulus, strong

CASTS = {"i32": "int32", "i64": "int64", "f64": "float64"}


class Rows:
    """Sequences of rows; mixed into program_generator.Generator (after Sequences)."""

    def matrix(self, sc: Scope, depth: int) -> Val:
        if depth <= 0 or self.chance(0.4) or not self.cheap(sc, Val("", "", 0)):
            return self.pick(sc.rows)
        kind = self.pick(["make", "make", "each", "transpose", "move", "filter", "scan",
                          "product"])
        return getattr(self, "rows_" + kind)(sc, depth - 1)

    def top_classes(self) -> dict:
        """A named sequence of each length class the program has at its top level."""
        return {s.length: s for s in self.seqs if not s.is_pair}

    def small_rows(self, m: Val, limit: float = 1000) -> Val:
        if m.bound <= limit or m.is_float:
            return m
        r, v, k = self.fresh("r"), self.fresh("v"), modulus(limit)
        return Val(f"map(lambda {r}: map(lambda {v}: {v} % {k}, {r}), {m.text})", m.dtype,
                   k - 1, m.length, m.row)

    def rows_make(self, sc, depth):
        """map(lambda v: <a row>, xs): the row is computed per element, of a length every
        element shares."""
        s = self.sequence(sc, depth)
        v = Val(self.name("v", sc), s.dtype, s.bound)
        row = self.sequence(sc.inner([v], s.length), 1)
        classes = self.top_classes()
        if not self.cheap(sc.inner([], None), s):  # (long rows of long sequences: too many)
            classes = {k: t for k, t in classes.items() if k in self.small_classes}
        if row.length not in classes:  # (a filter's length: not one per row)
            t = self.pick(classes.values())
            w = Val(self.fresh("w"), t.dtype, t.bound)
            body = self.number(sc.inner([v, w], t.length), 2)
            row = Val(f"map(lambda {w.text}: {body.text}, {t.text})", strong(body.dtype),
                      body.bound, t.length)
        return Val(f"map(lambda {v.text}: {row.text}, {s.text})", strong(row.dtype), row.bound,
                   s.length, row.length)

    def rows_each(self, sc, depth):
        """map(lambda r: <a row from r>, m)."""
        m = self.matrix(sc, depth)
        r = Val(self.fresh("r"), m.dtype, m.bound, m.row)
        inner = sc.inner([], m.length, [r])
        if self.chance(0.5):
            new = self.like(inner, 1, r)
        else:
            w = Val(self.fresh("w"), m.dtype, m.bound)
            body = self.number(inner.inner([w], m.row), 2)
            new = Val(f"map(lambda {w.text}: {body.text}, {r.text})", strong(body.dtype),
                      body.bound, m.row)
        return Val(f"map(lambda {r.text}: {new.text}, {m.text})", new.dtype, new.bound, m.length,
                   m.row)

    def rows_transpose(self, sc, depth):
        m = self.matrix(sc, depth)
        return Val(f"transpose({m.text})", m.dtype, m.bound, m.row, m.length)

    def rows_move(self, sc, depth):
        m = self.matrix(sc, depth)
        if self.chance(0.5):
            return Val(f"rotate({m.text}, {self.rng.randint(-3, 3)})", m.dtype, m.bound, m.length,
                       m.row)
        return Val(f"gather({m.text}, {self.permutation(m, sc)})", m.dtype, m.bound, m.length,
                   m.row)

    def rows_filter(self, sc, depth):
        m = self.matrix(sc, depth)
        if m.is_float:
            return m
        r = self.fresh("r")
        return Val(f"filter(lambda {r}: sum({r}) % 2 == 0, {m.text})", m.dtype, m.bound,
                   self.fresh("f"), m.row)

    def rows_scan(self, sc, depth):
        """Running column sums, either way."""
        m = self.small_rows(self.matrix(sc, depth))
        a, b = self.fresh("a"), self.fresh("b")
        form = self.pick(["scan", "rscan"])
        return Val(f"{form}(lambda {a}, {b}: map(op_add, {a}, {b}), {m.text})", m.dtype,
                   m.bound * self.nmax, m.length, m.row)

    def rows_product(self, sc, depth):
        """m times its transpose, either way round (in a program with long inputs, only a
        product with few rows and columns)."""
        m = self.small_rows(self.matrix(sc, depth), (LIMIT / self.nmax) ** 0.5)
        inner = sc.inner([], None)
        forms = [(f"matmul({m.text}, transpose({m.text}))", m.length),
                 (f"matmul(transpose({m.text}), {m.text})", m.row)]
        forms = [(text, k) for text, k in forms if self.cheap(inner, Val("", "", 0, k))]
        if not forms:
            return m
        text, k = self.pick(forms)
        return Val(text, m.dtype, m.bound ** 2 * self.nmax, k, k)

    # -- sequences and numbers from rows -------------------------------------------------------
    def seq_from_rows(self, sc, depth, pairs):
        m = self.matrix(sc, depth)
        form = self.pick(["each", "each", "columns", "vector"])
        if form == "columns" and m.dtype in CASTS and m.row in self.top_classes():
            m = self.small_rows(m)
            a, b = self.fresh("a"), self.fresh("b")
            zero = f"replicate({CASTS[m.dtype]}(0), len({self.top_classes()[m.row].text}))"
            return Val(f"reduce(lambda {a}, {b}: map(op_add, {a}, {b}), {m.text}, {zero})",
                       m.dtype, m.bound * self.nmax, m.row)
        if form == "vector" and m.dtype in CASTS and m.row in self.top_classes():
            k = modulus((LIMIT / self.nmax) ** 0.5)
            m, t, q = self.small_rows(m, k), self.top_classes()[m.row], self.fresh("q")
            vector = f"map(lambda {q}: {CASTS[m.dtype]}({q} % {k}), {t.text})"
            return Val(f"matmul({m.text}, {vector})", m.dtype, k * k * self.nmax, m.length)
        r = Val(self.fresh("r"), m.dtype, m.bound, m.row)
        body = self.small(self.number(sc.inner([], m.length, [r]), 2), LIMIT // self.nmax)
        return Val(f"map(lambda {r.text}: {body.text}, {m.text})", strong(body.dtype),
                   body.bound, m.length)
