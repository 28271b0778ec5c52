"""Type terms of the cupar language and the unifier that solves equations between them.

Types: scalars (`Scalar('float32')`; the weak literal types `Scalar('int')` and
`Scalar('float')` of NEP 50), sequences `Seq(elem, length)` whose `length` is a symbolic `Dim`,
tuples, function types, and the variables `TVar` (types) and `Dim` (lengths) solved by
unification. A 2-D array is `Seq(Seq(f32, m), n)`: a sequence of rows.

Weak scalars are what Python numbers are: they take the type of the strong value they meet
(`x * 2.0` stays f32), and default to i64/f64 where nothing strong is met.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

import numpy as np

DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64")
WEAK = ("int", "float")
SHORT = {"bool": "bool", "int": "int", "float": "float", "int8": "i8", "int16": "i16",
         "int32": "i32", "int64": "i64", "uint8": "u8", "uint16": "u16", "uint32": "u32",
         "uint64": "u64", "float32": "f32", "float64": "f64"}


@dataclass(frozen=True)
class Scalar:
    name: str

    @property
    def weak(self) -> bool:
        return self.name in WEAK

    @functools.cached_property
    def dtype(self) -> np.dtype:
        """The NumPy dtype values of this type are stored as (weak types default to 64 bits)."""
        return np.dtype({"int": "int64", "float": "float64"}.get(self.name, self.name))

    @property
    def kind(self) -> str:
        """'b' bool, 'i' signed, 'u' unsigned, 'f' float: NumPy's dtype.kind."""
        return self.dtype.kind


@dataclass(frozen=True)
class Dim:
    """A symbolic sequence length; equal Dims mean lengths known to be equal."""

    id: int


@dataclass(frozen=True)
class Seq:
    elem: Type
    length: Dim


@dataclass(frozen=True)
class Tuple:
    elems: tuple


@dataclass(frozen=True)
class Fn:
    params: tuple
    result: Type


@dataclass(frozen=True)
class TVar:
    id: int


Type = Scalar | Seq | Tuple | Fn | TVar

BOOL, INT64, FLOAT64 = Scalar("bool"), Scalar("int64"), Scalar("float64")
WEAK_INT, WEAK_FLOAT = Scalar("int"), Scalar("float")
_ids = itertools.count(1)


def fresh_var() -> TVar:
    return TVar(next(_ids))


def fresh_dim() -> Dim:
    return Dim(next(_ids))


def strong(t: Type) -> Type:
    """The type a value takes when stored: weak scalars become i64/f64 (inside sequences,
    function results, and anything handed back to Python as an array)."""
    match t:
        case Scalar(name) if name in WEAK:
            return Scalar(t.dtype.name)
        case Seq(elem, length):
            return Seq(strong(elem), length)
        case Tuple(elems):
            return Tuple(tuple(strong(e) for e in elems))
    return t


class Clash(Exception):
    """Two types that cannot be made equal; the caller turns it into a located error."""

    def __init__(self, left, right):
        super().__init__(left, right)
        self.left, self.right = left, right


class Unifier:
    """A substitution over TVars and Dims, grown by `unify` (union-find with path compression)."""

    def __init__(self):
        self.bound: dict = {}

    def find(self, t):
        while t in self.bound:
            t = self.bound[t]
        return t

    def resolve(self, t: Type) -> Type:
        """`t` with every solved variable replaced by its solution."""
        t = self.find(t)
        match t:
            case Seq(elem, length):
                return Seq(self.resolve(elem), self.find(length))
            case Tuple(elems):
                return Tuple(tuple(self.resolve(e) for e in elems))
            case Fn(params, result):
                return Fn(tuple(self.resolve(p) for p in params), self.resolve(result))
        return t

    def unify(self, a: Type, b: Type) -> Type:
        """Make `a` and `b` equal and return the common type; raise Clash when impossible.
        A weak scalar meeting a strong one of a compatible kind becomes that strong type."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if isinstance(ra, (TVar, Dim)) or isinstance(rb, (TVar, Dim)):
            return self._bind(ra, rb)
        result = self._structural(ra, rb)
        for var in (a, b):  # a variable solved by a weak scalar takes the stronger type
            if isinstance(var, TVar) and self.find(var) != result:
                self.rebind(var, result)
        return result

    def _structural(self, a: Type, b: Type) -> Type:
        match a, b:
            case Scalar(), Scalar():
                joined = join_scalars(a, b)
                if joined is None:
                    raise Clash(a, b)
                return joined
            case Seq(), Seq():
                return Seq(self.unify(a.elem, b.elem), self.unify(a.length, b.length))
            case Tuple(), Tuple() if len(a.elems) == len(b.elems):
                return Tuple(tuple(self.unify(x, y) for x, y in zip(a.elems, b.elems)))
            case Fn(), Fn() if len(a.params) == len(b.params):
                params = tuple(self.unify(x, y) for x, y in zip(a.params, b.params))
                return Fn(params, self.unify(a.result, b.result))
        raise Clash(a, b)

    def _bind(self, a, b):
        var, other = (a, b) if isinstance(a, (TVar, Dim)) else (b, a)
        if isinstance(var, Dim) != isinstance(other, Dim):
            raise Clash(a, b)
        if isinstance(var, TVar) and occurs(var, self.resolve(other)):
            raise Clash(a, b)
        self.bound[var] = other
        return other

    def rebind(self, var: TVar, t: Type) -> None:
        """Replace the solution of `var` (used when a weak solution meets a strong one)."""
        root = var
        while root in self.bound and isinstance(self.bound[root], TVar):
            root = self.bound[root]
        self.bound[root] = t


def occurs(var: TVar, t: Type) -> bool:
    match t:
        case TVar():
            return t == var
        case Seq(elem, _):
            return occurs(var, elem)
        case Tuple(elems):
            return any(occurs(var, e) for e in elems)
        case Fn(params, result):
            return any(occurs(var, p) for p in params) or occurs(var, result)
    return False


def join_scalars(a: Scalar, b: Scalar) -> Scalar | None:
    """The type two branch/accumulator values share, or None. Weak ints meet any number, weak
    floats any float; two different strong types do not meet (that needs an explicit cast)."""
    if a == b:
        return a
    if a.weak and b.weak:
        return WEAK_FLOAT
    if b.weak:
        a, b = b, a
    if a.weak and (b.kind in "iuf" if a.name == "int" else b.kind == "f"):
        return b
    return None


def format_type(t: Type, dims: dict | None = None) -> str:
    """Readable text: `f32`, `f32[N]`, `f32[N][M]`, `(i64, f32)`, `(f32, f32) -> f32`."""
    dims = {} if dims is None else dims
    match t:
        case Scalar(name):
            return SHORT[name]
        case Seq():
            base, lengths = t, []
            while isinstance(base, Seq):
                lengths.append(dim_name(base.length, dims))
                base = base.elem
            return format_type(base, dims) + "".join(f"[{n}]" for n in lengths)
        case Tuple(elems):
            inner = ", ".join(format_type(e, dims) for e in elems)
            return f"({inner},)" if len(elems) == 1 else f"({inner})"
        case Fn(params, result):
            args = ", ".join(format_type(p, dims) for p in params)
            return f"({args}) -> {format_type(result, dims)}"
        case TVar(id):
            return f"'t{id}"
    return repr(t)


def dim_name(d: Dim, dims: dict) -> str:
    names = "NMPQRSUVW"  # capitals, so lengths never read as the user's variables
    if d not in dims:
        k = len(dims)
        dims[d] = names[k] if k < len(names) else f"N{k}"
    return dims[d]


def canonical(types) -> tuple:
    """`types` with Dims renumbered by first appearance: equal shapes give equal keys."""
    dims: dict = {}

    def walk(t):
        match t:
            case Seq(elem, length):
                return Seq(walk(elem), dims.setdefault(length, Dim(-len(dims) - 1)))
            case Tuple(elems):
                return Tuple(tuple(walk(e) for e in elems))
            case Fn(params, result):
                return Fn(tuple(walk(p) for p in params), walk(result))
        return t

    return tuple(walk(t) for t in types)


def parse_type(text: str, dims: dict | None = None) -> Type:
    """The type `text` names, written as `format_type` prints types: `f32`, `i64[n]`,
    `f64[n][m]` (n rows of m), `(i64, f32)[n]`, `(f32,)`. A length is a name or a number;
    `dims` maps each length's text to its Dim (equal texts are one length; a number's text is
    a literal length). Function and variable types are not values and are refused
    (ValueError).

    >>> format_type(parse_type("(i64, f32)[n]"))
    '(i64, f32)[N]'
    """
    dims = {} if dims is None else dims
    reader = _TypeReader(text, dims)
    t = reader.type()
    reader.expect(None)
    return t


_SCALAR_NAMES = {**{short: long for long, short in SHORT.items()}, **{n: n for n in DTYPES}}


class _TypeReader:
    """A recursive-descent reader over the tokens of a type: names, numbers, `( ) [ ] ,`."""

    def __init__(self, text: str, dims: dict):
        self.text, self.dims, self.at = text, dims, 0
        self.tokens = [(m.group(1), m.start(1))
                       for m in re.finditer(r"\s*([A-Za-z_]\w*|\d+|\S)", text)]

    def peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.at += 1
        return token

    def fail(self, wanted: str):
        col = self.tokens[self.at][1] if self.at < len(self.tokens) else len(self.text)
        found = repr(self.peek()) if self.peek() is not None else "the end"
        raise ValueError(f"cannot read the type {self.text!r}: expected {wanted} at column "
                         f"{col + 1}, found {found}\n    {self.text}\n    {' ' * col}^")

    def expect(self, token: str | None) -> None:
        if self.peek() != token:
            self.fail(repr(token) if token else "the end")
        self.take()

    def type(self) -> Type:
        t = self.base()
        lengths = []
        while self.peek() == "[":
            self.take()
            lengths.append(self.length())
            self.expect("]")
        for d in reversed(lengths):  # the first length is the outermost sequence's
            t = Seq(t, d)
        return t

    def base(self) -> Type:
        token = self.peek()
        if token in _SCALAR_NAMES:
            self.take()
            return Scalar(_SCALAR_NAMES.get(token, token))
        if token != "(":
            self.fail("a scalar type (" + ", ".join(SHORT.values()) + ") or '('")
        self.take()
        elems = [self.type()]
        while self.peek() == ",":
            self.take()
            if self.peek() == ")":
                return self.close(elems, comma=True)
            elems.append(self.type())
        return self.close(elems, comma=len(elems) > 1)

    def close(self, elems: list, comma: bool) -> Type:
        self.expect(")")
        return Tuple(tuple(elems)) if comma else elems[0]  # `(f32)` is only grouping

    def length(self) -> Dim:
        token = self.peek()
        if token is None or not (token.isidentifier() or token.isdigit()):
            self.fail("a length: a name such as n, or a number")
        self.take()
        return self.dims.setdefault(token, fresh_dim())
