"""The primitive table: one entry per primitive, filled in by `cupar.dsl.prelude`.

Each entry holds the reference implementation (the meaning every place must reproduce), its
type rule, a Copperhead-style signature for people, and the docstring. Back ends key their
lowerings by the same names. This module owns the table's shape and the type rules; it knows
nothing of places or of Numba.

A type rule is `rule(ctx, *arg_types) -> result type`, where `ctx` (see infer.py) offers
`unify`, `resolve`, `apply` (type a function argument at given argument types), `const` (the
value of a constant argument) and `error` (a located CuparTypeError). Scalar operators use
`NUMERIC`: their result type is read off the reference implementation evaluated on sample
values of the argument types, so rule and meaning cannot disagree.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .types import (BOOL, INT64, WEAK_FLOAT, WEAK_INT, Fn, Scalar, Seq, Tuple, TVar,
                    format_type, fresh_dim, strong)


@dataclass(frozen=True)
class Primitive:
    name: str
    ref: Callable
    rule: Callable
    sig: str
    doc: str
    arity: tuple[int, int | None]  # (least, most); most None = variadic


PRIMITIVES: dict[str, Primitive] = {}
SYMBOLS = {"op_add": "+", "op_sub": "-", "op_mul": "*", "op_div": "/", "op_floordiv": "//",
           "op_mod": "%", "op_pow": "**", "op_lshift": "<<", "op_rshift": ">>", "op_or": "|",
           "op_xor": "^", "op_and": "&", "op_neg": "unary -", "op_pos": "unary +",
           "op_invert": "~", "op_not": "not", "cmp_eq": "==", "cmp_ne": "!=", "cmp_lt": "<",
           "cmp_le": "<=", "cmp_gt": ">", "cmp_ge": ">="}
NUMERIC = "numeric"  # marker: derive the type rule from the reference implementation


def primitive(sig: str, rule, arity: tuple[int, int | None], name: str | None = None):
    """Register the decorated reference implementation as primitive `name`."""
    def register(ref):
        key = name or ref.__name__
        typing = numeric_rule(key, ref) if rule is NUMERIC else rule
        PRIMITIVES[key] = Primitive(key, ref, typing, sig, (ref.__doc__ or "").strip(), arity)
        return ref
    return register


# -- helpers shared by the rules ----------------------------------------------------------

def shown(prim: str) -> str:
    """A primitive as messages name it: operators by the symbol the user wrote."""
    return f"`{SYMBOLS[prim]}`" if prim in SYMBOLS else prim


def sample(t: Scalar):
    """A value of type `t`: Python numbers for the weak types, NumPy scalars otherwise."""
    if t.name == "int":
        return 1
    if t.name == "float":
        return 1.5
    return t.dtype.type(1)


def type_of_sample(value) -> Scalar:
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if type(value) is int:  # np.float64 subclasses float, yet is strong
        return WEAK_INT
    if type(value) is float:
        return WEAK_FLOAT
    return Scalar(np.asarray(value).dtype.name)


def numeric_rule(name: str, ref: Callable) -> Callable:
    def rule(ctx, *types):
        scalars = [scalar(ctx, t, k) for k, t in enumerate(types)]
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                value = ref(*(sample(t) for t in scalars))
        except TypeError:
            types_text = " and ".join(format_type(t) for t in scalars)
            ctx.error(f"{shown(name)} is not defined for {types_text}",
                      "bitwise operators take integers or booleans; math takes numbers")
        return type_of_sample(value)
    return rule


def scalar(ctx, t, k: int) -> Scalar:
    t = ctx.resolve(t)
    if isinstance(t, Scalar):
        return t
    hint = None
    if isinstance(t, Seq):
        hint = "to work on every element, use map(lambda x: ..., xs)"
    ctx.error(f"{shown(ctx.prim)} takes numbers, but argument {k + 1} is {format_type(t)}",
              hint, arg=k)


def seq(ctx, t, k: int) -> Seq:
    t = ctx.resolve(t)
    if isinstance(t, Seq):
        return t
    if isinstance(t, TVar):
        t = ctx.unify(t, Seq(ctx.fresh(), fresh_dim()), k)
        return ctx.resolve(t)
    ctx.error(f"{ctx.prim} takes a sequence as argument {k + 1}, but got {format_type(t)}",
              None, arg=k)


def integer(ctx, t, k: int, what: str = "an integer") -> Scalar:
    s = scalar(ctx, t, k)
    if s.kind not in "iu":
        ctx.error(f"{ctx.prim} needs {what} as argument {k + 1}, but got {format_type(s)}",
                  "convert with int64(...)", arg=k)
    return s


def index_seq(ctx, t, k: int) -> Seq:
    s = seq(ctx, t, k)
    elem = ctx.resolve(s.elem)
    if not (isinstance(elem, Scalar) and elem.kind in "iu"):
        ctx.error(f"{ctx.prim} needs a sequence of integer indices as argument {k + 1}, "
                  f"but got {format_type(s)}", "convert with map(int64, idx)", arg=k)
    return s


def returns(ctx, fn, args: tuple, expected, k: int, what: str):
    """Apply function argument `fn` and require its result to be `expected`."""
    result = ctx.apply(fn, args, k)
    return ctx.unify(result, expected, k, what)


def binary_op(ctx, fn, a, k: int):
    """`fn` must map (a, a) -> a: the operator of reduce and scan."""
    return returns(ctx, fn, (a, a), a, k,
                   f"the operator of {ctx.prim} must return the element type")


def predicate(ctx, fn, args: tuple, k: int):
    result = ctx.resolve(ctx.apply(fn, args, k))
    if result != BOOL:
        ctx.error(f"the function given to {ctx.prim} must return bool, but it returns "
                  f"{format_type(result)}", "compare explicitly, e.g. `x != 0`", arg=k)


def promote(ctx, a, b) -> Scalar:
    """NumPy's promotion with NEP 50 weak scalars (both weak: the weak join)."""
    a, b = scalar(ctx, a, 0), scalar(ctx, b, 1)
    if a.weak and b.weak:
        return WEAK_FLOAT if "float" in (a.name, b.name) else WEAK_INT
    dtype = np.result_type(*(sample(t) if t.weak else t.dtype for t in (a, b)))
    return Scalar(dtype.name)


# -- rules --------------------------------------------------------------------------------

def map_rule(ctx, fn, *seqs):
    if not seqs:
        ctx.error("map needs at least one sequence", "map(f, xs, ys, ...)")
    ss = [seq(ctx, s, k + 1) for k, s in enumerate(seqs)]
    length = ss[0].length
    for k, s in enumerate(ss[1:], start=2):
        length = ctx.unify(length, s.length, k)
    result = ctx.apply(fn, tuple(s.elem for s in ss), 0)
    return Seq(strong(ctx.resolve(result)), length)


def reduce_rule(ctx, fn, xs, init):
    a = ctx.unify(seq(ctx, xs, 1).elem, init, 2, "the initial value must have the element type")
    return binary_op(ctx, fn, a, 0)


def scan_rule(ctx, fn, xs):
    s = seq(ctx, xs, 1)
    return Seq(binary_op(ctx, fn, s.elem, 0), s.length)


def exclusive_scan_rule(ctx, fn, init, xs):
    s = seq(ctx, xs, 2)
    a = ctx.unify(s.elem, init, 1, "the initial value must have the element type")
    return Seq(binary_op(ctx, fn, a, 0), s.length)


def filter_rule(ctx, fn, xs):
    s = seq(ctx, xs, 1)
    predicate(ctx, fn, (s.elem,), 0)
    return Seq(s.elem, fresh_dim())


def sort_rule(ctx, fn, xs):
    s = seq(ctx, xs, 1)
    predicate(ctx, fn, (s.elem, s.elem), 0)
    return s


def elem_rule(ctx, xs):
    """[a] -> a, for sequences of scalars."""
    return scalar(ctx, seq(ctx, xs, 0).elem, 0)


def sum_rule(ctx, xs):
    elem = elem_rule(ctx, xs)
    return INT64 if elem == BOOL else elem


def bool_seq_rule(ctx, xs):
    elem = elem_rule(ctx, xs)
    if elem != BOOL:
        ctx.error(f"{ctx.prim} takes a sequence of bool, but got {format_type(ctx.resolve(xs))}",
                  "compare explicitly, e.g. map(lambda x: x != 0, xs)", arg=0)
    return BOOL


def extremum_rule(ctx, *args):
    """min/max: of one sequence, or of two numbers (Python's two forms)."""
    if len(args) == 1:
        return elem_rule(ctx, args[0])
    return promote(ctx, *args)


def argext_rule(ctx, xs):
    elem_rule(ctx, xs)
    return INT64


def len_rule(ctx, xs):
    seq(ctx, xs, 0)
    return WEAK_INT


def range_rule(ctx, *bounds):
    for k, b in enumerate(bounds):
        integer(ctx, b, k)
    return Seq(INT64, fresh_dim())


def zip_rule(ctx, *seqs):
    if not seqs:
        ctx.error("zip needs at least one sequence")
    ss = [seq(ctx, s, k) for k, s in enumerate(seqs)]
    length = ss[0].length
    for k, s in enumerate(ss[1:], start=1):
        length = ctx.unify(length, s.length, k)
    return Seq(Tuple(tuple(s.elem for s in ss)), length)


def unzip_rule(ctx, xs):
    s = seq(ctx, xs, 0)
    elem = ctx.resolve(s.elem)
    if not isinstance(elem, Tuple):
        ctx.error(f"unzip takes a sequence of tuples, but got {format_type(ctx.resolve(xs))}",
                  arg=0)
    return Tuple(tuple(Seq(e, s.length) for e in elem.elems))


def enumerate_rule(ctx, xs):
    s = seq(ctx, xs, 0)
    return Seq(Tuple((INT64, s.elem)), s.length)


def gather_rule(ctx, xs, idx):
    return Seq(seq(ctx, xs, 0).elem, index_seq(ctx, idx, 1).length)


def scatter_rule(ctx, src, idx, dst):
    s, d = seq(ctx, src, 0), seq(ctx, dst, 2)
    ctx.unify(s.length, index_seq(ctx, idx, 1).length, 1)
    return Seq(ctx.unify(d.elem, s.elem, 0, "scattered values must have the element type"),
               d.length)


def reduce_by_index_rule(ctx, fn, dest, idx, values):
    """dest's elements are numbers, or rows of numbers that `fn` combines column by column;
    values have dest's element type and one value per index."""
    d, v = seq(ctx, dest, 1), seq(ctx, values, 3)
    ctx.unify(v.length, index_seq(ctx, idx, 2).length, 3)
    elem = ctx.unify(d.elem, v.elem, 3, "the values must have the element type of dest")
    row = ctx.resolve(elem)
    number = ctx.resolve(row.elem) if isinstance(row, Seq) else row
    if not isinstance(number, Scalar):
        ctx.error(f"reduce_by_index combines numbers or rows of numbers, but dest is "
                  f"{format_type(ctx.resolve(dest))}", "unzip a sequence of tuples and "
                  "combine each column apart", arg=1)
    binary_op(ctx, fn, number, 0)
    return Seq(elem, d.length)


def permute_rule(ctx, xs, idx):
    s = seq(ctx, xs, 0)
    ctx.unify(s.length, index_seq(ctx, idx, 1).length, 1)
    return s


def update_rule(ctx, dst, updates):
    d, u = seq(ctx, dst, 0), seq(ctx, updates, 1)
    pair = ctx.resolve(u.elem)
    if not (isinstance(pair, Tuple) and len(pair.elems) == 2):
        ctx.error(f"update takes a sequence of (index, value) pairs, but got "
                  f"{format_type(ctx.resolve(updates))}", arg=1)
    integer(ctx, pair.elems[0], 1, "integer indices")
    ctx.unify(d.elem, pair.elems[1], 1, "updated values must have the element type")
    return d


def indices_rule(ctx, xs):
    return Seq(INT64, seq(ctx, xs, 0).length)


def replicate_rule(ctx, x, n):
    integer(ctx, n, 1)
    return Seq(strong(ctx.resolve(x)), fresh_dim())


def shift_rule(ctx, xs, offset, default):
    s = seq(ctx, xs, 0)
    integer(ctx, offset, 1)
    ctx.unify(s.elem, default, 2, "the fill value must have the element type")
    return s


def rotate_rule(ctx, xs, offset):
    integer(ctx, offset, 1)
    return seq(ctx, xs, 0)


def matrix(ctx, t, k: int):
    """(rows, row length, element) of a matrix argument, or (None, length, element) of a
    vector; its elements must be numbers."""
    s = seq(ctx, t, k)
    inner = ctx.resolve(s.elem)
    rows, length = (s.length, inner.length) if isinstance(inner, Seq) else (None, s.length)
    elem = ctx.resolve(inner.elem) if isinstance(inner, Seq) else inner
    if not (isinstance(elem, Scalar) and elem.kind in "iuf"):
        ctx.error(f"{ctx.prim} takes matrices (sequences of rows of numbers) or vectors of "
                  f"numbers, but argument {k + 1} is {format_type(ctx.resolve(t))}", None, arg=k)
    return rows, length, elem


def matmul_rule(ctx, a, b):
    """n x k by k x m gives n x m; n x k by a k-vector gives n numbers, a k-vector by k x m
    gives m. The inner lengths unify (checked again at run time), and so do the element
    types."""
    rows_a, inner_a, ea = matrix(ctx, a, 0)
    rows_b, cols_b, eb = matrix(ctx, b, 1)
    if rows_a is None and rows_b is None:
        ctx.error("matmul of two vectors is their dot product, which matmul does not give",
                  "use sum(map(op_mul, x, y))", arg=1)
    elem = ctx.unify(ea, eb, 1, "matmul multiplies matrices of one element type")
    if rows_b is None:  # matrix by vector
        ctx.unify(inner_a, cols_b, 1, "the inner lengths of matmul must agree")
        return Seq(elem, rows_a)
    ctx.unify(inner_a, rows_b, 1, "the inner lengths of matmul must agree")
    return Seq(elem, cols_b) if rows_a is None else Seq(Seq(elem, cols_b), rows_a)


def transpose_rule(ctx, m):
    s = seq(ctx, m, 0)
    row = ctx.resolve(s.elem)
    if not (isinstance(row, Seq) and isinstance(ctx.resolve(row.elem), Scalar)):
        ctx.error(f"transpose takes a matrix (a sequence of rows of scalars), but got "
                  f"{format_type(ctx.resolve(m))}", "a 2-D array is a sequence of rows", arg=0)
    return Seq(Seq(ctx.resolve(row.elem), s.length), row.length)


def nested_numbers(ctx, xs, k: int, what: str) -> Seq:
    """xs as a sequence of rows whose elements are numbers or rows of them (no tuples)."""
    s = seq(ctx, xs, k)
    t = ctx.resolve(s.elem)
    while isinstance(t, Seq):
        t = ctx.resolve(t.elem)
    if not isinstance(t, Scalar):
        ctx.error(f"{ctx.prim} takes {what} of numbers, but got {format_type(ctx.resolve(xs))}",
                  "unzip a sequence of tuples and take each column apart", arg=k)
    return s


def join_rule(ctx, xss):
    row = ctx.resolve(nested_numbers(ctx, xss, 0, "a sequence of rows").elem)
    if not isinstance(row, Seq):
        ctx.error(f"join takes a sequence of rows (2-D or more), but got "
                  f"{format_type(ctx.resolve(xss))}", "a 1-D sequence is already joined",
                  arg=0)
    return Seq(ctx.resolve(row.elem), fresh_dim())


def split_rule(ctx, xs, k):
    integer(ctx, k, 1)
    s = nested_numbers(ctx, xs, 0, "a sequence")
    return Seq(Seq(ctx.resolve(s.elem), fresh_dim()), fresh_dim())


def iterate_rule(ctx, fn, x, n):
    integer(ctx, n, 2, "a count")
    state = returns(ctx, fn, (x,), x, 0, "the function given to iterate must return a value "
                    "of its argument's type")
    return Seq(strong(ctx.resolve(state)), fresh_dim())


def cond_rule(ctx, pred, then, other):
    p = ctx.resolve(pred)
    if not isinstance(p, Scalar):
        ctx.error(f"a condition must be a bool or a number, but this one is {format_type(p)}",
                  "for sequences use any(xs) or all(xs); compare numbers explicitly", arg=0)
    left, right = ctx.apply(then, (), 1), ctx.apply(other, (), 2)
    return ctx.unify(left, right, 2, "both branches must have the same type")


def call_rule(ctx, fn, *args):
    return ctx.apply(fn, args, 0)


def tuple_rule(ctx, *elems):
    return Tuple(tuple(ctx.resolve(e) for e in elems))


def index_rule(ctx, xs, i):
    t = ctx.resolve(xs)
    if isinstance(t, Tuple):
        k = ctx.const(1)
        if not isinstance(k, int) or not -len(t.elems) <= k < len(t.elems):
            ctx.error(f"a tuple of {len(t.elems)} elements needs a constant index from 0 to "
                      f"{len(t.elems) - 1}", "unpack it instead: a, b = pair", arg=1)
        return t.elems[k]
    if isinstance(t, Scalar):
        ctx.error(f"only sequences and tuples can be indexed, but this is {format_type(t)}",
                  "xs[i] needs a sequence xs, pair[0] a tuple", arg=0)
    it = ctx.resolve(i)
    if not (isinstance(it, Scalar) and it.kind in "iu"):
        hint = "to pick several elements, use gather(xs, idx)" if isinstance(it, Seq) \
            else "convert with int64(...)"
        ctx.error(f"a sequence index must be an integer, but got {format_type(it)}", hint, arg=1)
    return seq(ctx, t, 0).elem


def unpack_rule(ctx, t, n):
    t, n = ctx.resolve(t), ctx.const(1)
    if not (isinstance(t, Tuple) and len(t.elems) == n):
        what = f"a tuple of {len(t.elems)} values" if isinstance(t, Tuple) else format_type(t)
        ctx.error(f"cannot unpack {what} into {n} names",
                  "unpack a tuple into exactly as many names as it has values; "
                  "index a sequence instead: a = xs[0]", arg=0)
    return t


def cast_rule(dtype: str):
    def rule(ctx, x):
        scalar(ctx, x, 0)
        return Scalar(dtype)
    return rule


def cast_to_rule(ctx, x, like):
    scalar(ctx, x, 0)
    return scalar(ctx, like, 1)


def cast_to_el_rule(ctx, x, xs):
    scalar(ctx, x, 0)
    return elem_rule(ctx, xs)


def same_scalar_rule(ctx, x):
    return scalar(ctx, x, 0)


def select_rule(ctx, pred, a, b):
    if scalar(ctx, pred, 0) != BOOL:
        ctx.error("the condition of select must be bool", arg=0)
    return promote(ctx, a, b)


def fn_type(params, result) -> Fn:
    return Fn(tuple(params), result)
