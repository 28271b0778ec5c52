"""The prelude: cupar's sequence primitives, each defined once, as the executable spec.

Every function here is the reference meaning of a primitive: `places.here` runs exactly this
code, and every compiled place is tested against it. Beside each one stand its type rule and
its Copperhead-style signature (`[a]` a sequence, `(a, b)` a tuple, `a -> b` a function).
The functions also work when called from plain Python, on lists and arrays.

Operators, comparisons, math and casts are in `operators.py`; structural primitives the front
end emits (`cond`, `call`, `tuple`, `index`) are at the end of this file.
"""

from __future__ import annotations

import builtins
import functools

import numpy as np

from ..compiler import primitives as rules
from ..compiler.primitives import primitive
from ..errors import CuparIndexError, CuparValueError
from . import operators as ops
from .values import TupleSeq

__all__ = ["map", "reduce", "sum", "any", "all", "min", "max", "argmin", "argmax", "len",
           "range", "bounded_range", "zip", "unzip", "filter", "enumerate", "gather", "scatter",
           "permute", "update", "scan", "rscan", "exclusive_scan", "exclusive_rscan", "indices",
           "replicate", "shift", "rotate", "sort", "reduce_by_index", "matmul",
           "transpose", "join", "split", "iterate"]


def same_length(name: str, *seqs) -> int:
    lengths = [builtins.len(s) for s in seqs]
    if builtins.any(n != lengths[0] for n in lengths):
        raise CuparValueError(f"{name} got sequences of different lengths {lengths}", None,
                              "every sequence given to one map or zip must have one length")
    return lengths[0] if lengths else 0


def checked_index(name: str, i, n: int) -> int:
    """Python's rule: -n <= i < n, negative indices counting from the end."""
    i = int(i)
    if not -n <= i < n:
        raise CuparIndexError(f"{name} index {i} is out of range for a sequence of length {n}",
                              None, f"valid indices are -{n} to {n - 1}" if n else
                              "the sequence is empty")
    return i


# -- the core: map, reduce, scan, filter -------------------------------------------------

@primitive("((a, b, ...) -> c, [a], [b], ...) -> [c]", rules.map_rule, (2, None))
def map(f, *seqs):
    """Apply `f` elementwise across one or more sequences of one length.

    >>> map(lambda x, y: x + y, [1, 2], [10, 20])
    [11, 22]
    """
    same_length("map", *seqs)
    return [f(*args) for args in builtins.zip(*seqs)]


@primitive("((a, a) -> a, [a], a) -> a", rules.reduce_rule, (3, 3))
def reduce(f, xs, init):
    """Combine `init` and the elements with `f`, which must be associative: places may group
    the operations in any order. The initial value is required.

    >>> reduce(op_add, [1, 2, 3], 10)
    16
    """
    return functools.reduce(f, xs, init)


@primitive("((a, a) -> a, [a]) -> [a]", rules.scan_rule, (2, 2))
def scan(f, xs):
    """Inclusive prefix scan: element i combines xs[0] .. xs[i] with associative `f`.

    >>> scan(op_add, [1, 2, 3])
    [1, 3, 6]
    """
    out, acc = [], None
    for k, x in builtins.enumerate(xs):
        acc = x if k == 0 else f(acc, x)
        out.append(acc)
    return out


@primitive("((a, a) -> a, [a]) -> [a]", rules.scan_rule, (2, 2))
def rscan(f, xs):
    """Reverse inclusive scan: element i combines xs[i] .. xs[n-1].

    >>> rscan(op_add, [1, 2, 3])
    [6, 5, 3]
    """
    out, acc = [], None
    for k, x in builtins.enumerate(reversed(list(xs))):
        acc = x if k == 0 else f(x, acc)
        out.append(acc)
    return out[::-1]


@primitive("((a, a) -> a, a, [a]) -> [a]", rules.exclusive_scan_rule, (3, 3))
def exclusive_scan(f, prefix, xs):
    """Exclusive scan: element i combines `prefix` and xs[0] .. xs[i-1].

    >>> exclusive_scan(op_add, 0, [1, 2, 3])
    [0, 1, 3]
    """
    out, acc = [], prefix
    for x in xs:
        out.append(acc)
        acc = f(acc, x)
    return out


@primitive("((a, a) -> a, a, [a]) -> [a]", rules.exclusive_scan_rule, (3, 3))
def exclusive_rscan(f, suffix, xs):
    """Reverse exclusive scan: element i combines xs[i+1] .. xs[n-1] and `suffix`.

    >>> exclusive_rscan(op_add, 0, [1, 2, 3])
    [5, 3, 0]
    """
    out, acc = [], suffix
    for x in reversed(list(xs)):
        out.append(acc)
        acc = f(x, acc)
    return out[::-1]


@primitive("(a -> bool, [a]) -> [a]", rules.filter_rule, (2, 2))
def filter(f, xs):
    """The elements for which `f` is true, in their original order.

    >>> filter(lambda x: x > 0, [3, -1, 2])
    [3, 2]
    """
    return [x for x in xs if f(x)]


# -- reductions ---------------------------------------------------------------------------

@primitive("[a] -> a", rules.sum_rule, (1, 1))
def sum(xs):
    """The sum of the elements, in the element type (`bool` counts, giving i64); 0 when empty.

    >>> sum([1, 2, 3])
    6
    """
    if isinstance(xs, np.ndarray):
        if xs.dtype == np.bool_:
            return np.int64(np.count_nonzero(xs))
        return functools.reduce(ops.op_add, xs, xs.dtype.type(0))
    return builtins.sum(xs)


@primitive("[bool] -> bool", rules.bool_seq_rule, (1, 1))
def any(xs):
    """True when some element is true; False for an empty sequence."""
    return np.bool_(builtins.any(xs))


@primitive("[bool] -> bool", rules.bool_seq_rule, (1, 1))
def all(xs):
    """True when every element is true; True for an empty sequence."""
    return np.bool_(builtins.all(xs))


def _extremum(name: str, better, args):
    if builtins.len(args) == 2:
        a, b = args
        return b if better(b, a) else a
    (xs,) = args
    if builtins.len(xs) == 0:
        raise CuparValueError(f"{name}() of an empty sequence", None,
                              f"use reduce({'minimum' if name == 'min' else 'maximum'}, xs, "
                              "init) to give the empty case a value")
    return functools.reduce(lambda a, b: b if better(b, a) else a, xs)


@primitive("[a] -> a  |  (a, b) -> promote(a, b)", rules.extremum_rule, (1, 2))
def min(*args):
    """The least element of a non-empty sequence, or the lesser of two numbers (the first
    when equal, as in Python). An empty sequence is an error."""
    return _extremum("min", lambda b, a: b < a, args)


@primitive("[a] -> a  |  (a, b) -> promote(a, b)", rules.extremum_rule, (1, 2))
def max(*args):
    """The greatest element of a non-empty sequence, or the greater of two numbers."""
    return _extremum("max", lambda b, a: b > a, args)


def _arg_extremum(name: str, better, xs):
    if builtins.len(xs) == 0:
        raise CuparValueError(f"{name}() of an empty sequence", None,
                              "check len(xs) > 0 first")
    best = 0
    for k in builtins.range(1, builtins.len(xs)):
        if better(xs[k], xs[best]):
            best = k
    return np.int64(best)


@primitive("[a] -> i64", rules.argext_rule, (1, 1))
def argmin(xs):
    """The index of the first least element of a non-empty sequence."""
    return _arg_extremum("argmin", lambda b, a: b < a, xs)


@primitive("[a] -> i64", rules.argext_rule, (1, 1))
def argmax(xs):
    """The index of the first greatest element of a non-empty sequence.

    >>> argmax([3, 9, 9])
    np.int64(1)
    """
    return _arg_extremum("argmax", lambda b, a: b > a, xs)


@primitive("[a] -> int", rules.len_rule, (1, 1))
def len(xs):
    """The number of elements (a Python int: weakly typed, so `x / len(xs)` keeps x's type)."""
    return builtins.len(xs)


# -- sequence constructors ----------------------------------------------------------------

@primitive("(int[, int[, int]]) -> [i64]", rules.range_rule, (1, 3))
def range(*bounds):
    """Python's range as a sequence of i64: range(n), range(lo, hi), range(lo, hi, step)."""
    if builtins.len(bounds) == 3 and bounds[2] == 0:
        raise CuparValueError("range() step must not be zero")
    return np.arange(*(int(b) for b in bounds), dtype=np.int64)


@primitive("(int, int) -> [i64]", rules.range_rule, (2, 2))
def bounded_range(lo, hi):
    """The integers lo, lo+1, ..., hi-1 (empty when hi <= lo)."""
    return np.arange(int(lo), builtins.max(int(lo), int(hi)), dtype=np.int64)


@primitive("[a] -> [i64]", rules.indices_rule, (1, 1))
def indices(xs):
    """The indices 0 .. len(xs)-1 of a sequence."""
    return np.arange(builtins.len(xs), dtype=np.int64)


@primitive("(a, int) -> [a]", rules.replicate_rule, (2, 2))
def replicate(x, n):
    """A sequence of `n` copies of `x` (empty when n <= 0).

    >>> replicate(7, 3)
    [7, 7, 7]
    """
    return [x] * int(n)


@primitive("([a], [b], ...) -> [(a, b, ...)]", rules.zip_rule, (1, None))
def zip(*seqs):
    """The sequence of tuples of corresponding elements; the sequences must have one length.
    The result keeps the sequences as its columns: nothing is copied."""
    same_length("zip", *seqs)
    if builtins.all(isinstance(s, (np.ndarray, TupleSeq)) for s in seqs):
        return TupleSeq(seqs)
    return list(builtins.zip(*seqs))


@primitive("[(a, b, ...)] -> ([a], [b], ...)", rules.unzip_rule, (1, 1))
def unzip(xs):
    """The tuple of columns of a sequence of tuples (the inverse of zip), without a copy."""
    if isinstance(xs, TupleSeq) and xs.depth == 1:
        return xs.columns
    return tuple(list(col) for col in builtins.zip(*xs))


@primitive("[a] -> [(i64, a)]", rules.enumerate_rule, (1, 1))
def enumerate(xs):
    """The sequence of (index, element) pairs."""
    return TupleSeq((indices(xs), xs)) if isinstance(xs, (np.ndarray, TupleSeq)) else \
        list(builtins.enumerate(xs))


# -- data movement ------------------------------------------------------------------------

@primitive("([a], [int]) -> [a]", rules.gather_rule, (2, 2))
def gather(xs, idx):
    """[xs[i] for i in idx]; an index outside xs is an error (negative ones count from the end).

    >>> gather([8, 16, 32], [2, 0])
    [32, 8]
    """
    n = builtins.len(xs)
    return [xs[checked_index("gather", i, n)] for i in idx]


@primitive("([a], [int], [a]) -> [a]", rules.scatter_rule, (3, 3))
def scatter(src, idx, dst):
    """A copy of `dst` with src[k] written at idx[k]. With repeated indices one of the values
    lands (here the last; compiled places may pick any)."""
    same_length("scatter", src, idx)
    out = list(dst)
    for v, i in builtins.zip(src, idx):
        out[checked_index("scatter", i, builtins.len(out))] = v
    return out


@primitive("((a, a) -> a, [a], [int], [a]) -> [a]  |  ((a, a) -> a, [[a]], [int], [[a]]) -> [[a]]",
           rules.reduce_by_index_rule, (4, 4))
def reduce_by_index(op, dest, idx, values):
    """A copy of `dest` into which every value is combined at its index: for each k,
    out[idx[k]] = op(out[idx[k]], values[k]) (a histogram, or a scatter-add: Futhark's
    reduce_by_index). `op` must be associative and commutative: places may combine the
    values of one index in any order. Negative indices count from the end; one outside
    `dest` is an error. Elements may be rows (2-D `dest` and `values`): `op` then combines
    them column by column.

    >>> reduce_by_index(op_add, [0, 0, 0], [0, 2, 0, -1], [1, 2, 3, 4])
    [4, 0, 6]
    """
    same_length("reduce_by_index", idx, values)
    out = [_row_copy(d) for d in dest]
    for i, v in builtins.zip(idx, values):
        j = checked_index("reduce_by_index", i, builtins.len(out))
        if isinstance(out[j], list):
            same_length("reduce_by_index", out[j], v)
            out[j] = [op(a, b) for a, b in builtins.zip(out[j], v)]
        else:
            out[j] = op(out[j], v)
    return out


def _row_copy(d):
    return list(d) if isinstance(d, (list, np.ndarray)) else d


@primitive("([a], [int]) -> [a]", rules.permute_rule, (2, 2))
def permute(xs, idx):
    """Send xs[k] to position idx[k]: scatter(xs, idx, xs).

    >>> permute([1, 2, 3, 4], [3, 0, 1, 2])
    [2, 3, 4, 1]
    """
    return scatter(xs, idx, xs)


@primitive("([a], [(int, a)]) -> [a]", rules.update_rule, (2, 2))
def update(dst, updates):
    """A copy of `dst` with dst[i] replaced by v for every pair (i, v) of `updates`."""
    if builtins.len(updates) == 0:
        return list(dst)
    idx, src = unzip(updates)
    return scatter(src, idx, dst)


@primitive("([a], int, a) -> [a]", rules.shift_rule, (3, 3))
def shift(xs, offset, default):
    """Element i is xs[i + offset] where that exists, else `default`.

    >>> shift([1, 2, 3], 1, 0)
    [2, 3, 0]
    """
    n, offset = builtins.len(xs), int(offset)
    return [xs[i + offset] if 0 <= i + offset < n else default for i in builtins.range(n)]


@primitive("([a], int) -> [a]", rules.rotate_rule, (2, 2))
def rotate(xs, offset):
    """Element i is xs[(i + offset) mod n].

    >>> rotate([1, 2, 3], 1)
    [2, 3, 1]
    """
    n = builtins.len(xs)
    return [xs[(i + int(offset)) % n] for i in builtins.range(n)]


@primitive("((a, a) -> bool, [a]) -> [a]", rules.sort_rule, (2, 2))
def sort(less, xs):
    """The elements ordered by `less`, a strict weak order such as cmp_lt or cmp_gt; equal
    elements keep their order (the sort is stable)."""
    def compare(a, b):
        return -1 if less(a, b) else (1 if less(b, a) else 0)
    return sorted(xs, key=functools.cmp_to_key(compare))


# -- matrices ----------------------------------------------------------------------------

def _operand(x: np.ndarray) -> str:
    return f"{x.shape[0]}x{x.shape[1]} matrix" if x.ndim == 2 else f"vector of {len(x)}"


@primitive("([[a]], [[a]]) -> [[a]]  |  ([[a]], [a]) -> [a]  |  ([a], [[a]]) -> [a]",
           rules.matmul_rule, (2, 2))
def matmul(a, b):
    """The matrix product: for `a` n x k and `b` k x m, element [i][j] is
    sum(map(op_mul, a[i], column j of b)), an n x m matrix (a sequence of n rows). A
    vector on the right is a k x 1 column (the result: n numbers), on the left a 1 x k row
    (m numbers). The inner lengths must agree. Like `sum`, places may group the additions
    in any order; integers wrap as in their dtype.

    >>> matmul([[1, 2], [3, 4]], [[5], [6]])
    array([[17],
           [39]])
    """
    a, b = np.asarray(a), np.asarray(b)
    inner = a.shape[-1] if a.ndim else 0
    if a.ndim not in (1, 2) or b.ndim not in (1, 2) or a.ndim + b.ndim < 3:
        raise CuparValueError(f"matmul takes matrices and vectors, not arrays of shapes "
                              f"{a.shape} and {b.shape}", None,
                              "for the dot product of two vectors use sum(map(op_mul, x, y))")
    if inner != b.shape[0]:
        raise CuparValueError(
            f"matmul got a {_operand(a)} and a {_operand(b)}: inner lengths {inner} and "
            f"{b.shape[0]} differ", None,
            "the length of a's rows must be the number of rows of b (n x k times k x m)")
    return np.matmul(a, b)


@primitive("[[a]] -> [[a]]", rules.transpose_rule, (1, 1))
def transpose(m):
    """The m x n matrix of an n x m one: element [j][i] of the result is m[i][j]. Compiled
    places read it by swapping indices, without copying, wherever it is consumed.

    >>> transpose([[1, 2, 3], [4, 5, 6]])
    array([[1, 4],
           [2, 5],
           [3, 6]])
    """
    return np.asarray(m).T.copy()


@primitive("[[a]] -> [a]", rules.join_rule, (1, 1))
def join(xss):
    """The rows of a regular sequence of rows, one after another (Copperhead's `join`): a
    (n, m, ...) array as a (n * m, ...) one, row-major, like NumPy's reshape. Compiled places
    read it by index arithmetic, without copying.

    >>> join([[1, 2, 3], [4, 5, 6]])
    array([1, 2, 3, 4, 5, 6])
    """
    a = np.asarray(xss)
    if a.ndim < 2 or a.dtype == object:
        raise CuparValueError("join takes a regular sequence of rows (all of one length)",
                              None, "a 1-D sequence is already joined")
    return a.reshape((-1,) + a.shape[2:])


@primitive("([a], int) -> [[a]]", rules.split_rule, (2, 2))
def split(xs, k):
    """xs cut into rows of length k, in order (Copperhead's `split`, whose tiles here must
    be whole): a (n * k, ...) array as a (n, k, ...) one. k must be positive and divide
    len(xs). The inverse of `join`.

    >>> split([1, 2, 3, 4, 5, 6], 3)
    array([[1, 2, 3],
           [4, 5, 6]])
    """
    a, k = np.asarray(xs), int(k)
    if k <= 0 or builtins.len(a) % k:
        raise CuparValueError(f"split cannot cut a sequence of length {builtins.len(a)} "
                              f"into rows of length {k}", None,
                              "the row length must be positive and divide the length")
    return a.reshape((builtins.len(a) // k, k) + a.shape[1:])


# -- recurrences ----------------------------------------------------------------------------

@primitive("(a -> a, a, int) -> [a]", rules.iterate_rule, (3, 3))
def iterate(f, x, n):
    """The first n states of x, f(x), f(f(x)), ... (f applied n - 1 times), as a sequence
    (a sequence of tuples for a tuple state); the empty sequence when some state's arrays
    have other shapes than x's (a regular sequence cannot hold them). The steps run one
    after another (each needs the one before); what runs in parallel is each step's work.
    Every hidden state of an RNN over x (steps, batch, in):

        ts, hs = unzip(iterate(lambda s: (s[0] + 1, cell(x[s[0]], s[1])), (0, h0), n + 1))

    Differentiable (autodiff_iterate.py: the states read backwards, O(n)); the derivative
    of a tail-recursive loop also records its states with it (autodiff_loops.py).

    >>> iterate(lambda v: v * 2, 1, 4)
    array([1, 2, 4, 8])
    """
    packed = isinstance(x, tuple)
    parts = x if packed else (x,)
    shapes = [np.shape(v) for v in parts]
    dtypes = [np.asarray(v).dtype for v in parts]
    states = []
    for k in builtins.range(builtins.max(int(n), 0)):
        if k:
            x = f(x)
            parts = x if packed else (x,)
            if [np.shape(v) for v in parts] != shapes:
                states = []
                break
        states.append(parts)
    columns = []
    for j, (shape, dtype) in builtins.enumerate(builtins.zip(shapes, dtypes)):
        column = np.empty((builtins.len(states),) + shape, dtype)
        for k, state in builtins.enumerate(states):
            column[k] = state[j]
        columns.append(column)
    return TupleSeq(columns) if packed else columns[0]


# -- structural primitives the front end emits --------------------------------------------

@primitive("(bool, () -> a, () -> a) -> a", rules.cond_rule, (3, 3))
def cond(pred, then, other):
    """`then()` if `pred` else `other()`: if statements and conditional expressions. Only the
    chosen branch runs."""
    return then() if pred else other()


@primitive("((a, ...) -> b, a, ...) -> b", rules.call_rule, (1, None))
def call(fn, *args):
    """Call a local function or another @parallel function."""
    return fn(*args)


@primitive("(a, b, ...) -> (a, b, ...)", rules.tuple_rule, (0, None), name="tuple")
def tuple_(*elems):
    """Build a tuple."""
    return tuple(elems)


@primitive("([a], int) -> a  |  ((a, b, ...), const int) -> a or b ...", rules.index_rule,
           (2, 2))
def index(xs, i):
    """xs[i]: an element of a sequence (negative indices count from the end), or a field of a
    tuple (the index must then be a constant)."""
    if isinstance(xs, tuple):
        return xs[i]
    return xs[checked_index("sequence", i, builtins.len(xs))]



@primitive("((a, b, ...), const int) -> (a, b, ...)", rules.unpack_rule, (2, 2))
def unpack(t, n):
    """Tuple unpacking `a, b = t`: `t` must be a tuple of exactly `n` values (checked when
    types are inferred); it is returned unchanged."""
    return t
