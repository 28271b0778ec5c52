"""Fusion structure: how many parallel loop nests (kernels) a program compiles to."""

import re

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.compiler.kernel_ir import If, Loop, kernel_count
from test_examples import load

F32 = np.float32
X = np.arange(8, dtype=F32)


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


@parallel
def nrm2(x):
    return sqrt(sum(map(lambda xi: xi * xi, x)))


@parallel
def cnd(d):
    k = 1.0 / (1.0 + 0.2316419 * abs(d))
    poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978
                                                                         + k * 1.330274429))))
    w = 1.0 - 0.3989422804 * exp(-d * d / 2) * poly
    return w if d > 0 else 1.0 - w


@parallel
def black_scholes(s, x, t, r, v):
    def price(si, xi, ti):
        d1 = (log(si / xi) + (r + v * v / 2) * ti) / (v * sqrt(ti))
        d2 = d1 - v * sqrt(ti)
        call = si * cnd(d1) - xi * exp(-r * ti) * cnd(d2)
        put = xi * exp(-r * ti) * cnd(-d2) - si * cnd(-d1)
        return call, put
    return map(price, s, x, t)


@parallel
def softmax(m):
    def row(r):
        top = max(r)
        e = map(lambda v: exp(v - top), r)
        total = sum(e)
        return map(lambda v: v / total, e)
    return map(row, m)


@parallel
def chain(x):
    y = map(lambda v: v + 1, x)
    z = map(lambda v: v * 2, y)
    return sum(map(lambda a, b: a * b, z, gather(x, indices(x))))


@parallel
def reuse(x):
    y = map(lambda v: exp(v), x)
    return sum(y), max(y)


@parallel
def shared_product(x, y):
    t = map(lambda a, b: a * b, x, y)
    return sum(t), scan(op_add, t)


@parallel
def shared_by_three(x, y):
    t = map(lambda a, b: a * b, x, y)
    return sum(t), max(t), min(t)


@parallel
def moments(x):
    return sum(x), sum(map(lambda v: v * v, x))


# A radix sort pass: both flag maps are recomputed where read, the two exclusive scans run
# as one, then the total and the scatter.
split_by_bit = load("radix_sort").split_by_bit


@parallel
def column_sums(m, start):
    return reduce(lambda a, b: map(op_add, a, b), m, start)


@parallel
def running_column_sums(m):
    return scan(lambda a, b: map(op_add, a, b), m)


def kernels(fn, *args):
    compiled = cupar.places.cpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    assert not isinstance(compiled, str), compiled
    return compiled.kernels


@pytest.mark.parametrize("fn, args, count", [
    (axpy, (F32(2), X, X), 1),
    (nrm2, (X,), 1),
    (black_scholes, (X + 1, X + 2, X + 1, F32(0.02), F32(0.3)), 1),
    (softmax, (np.ones((4, 8), F32),), 1),
    (chain, (X,), 1),
    (reuse, (X,), 3),  # exp is materialised once, then two reductions read it
    (shared_product, (X, X), 2),  # x*y over 2 arrays, 2 consumers: recomputed by each
    (shared_by_three, (X, X), 3),  # 3 consumers of 2 arrays: stored; max and min one fold
    (moments, (X,), 1),  # sibling reductions: one fold of a pair
    (split_by_bit, (X.astype(np.uint32), 3, np.uint32(0)), 3),  # both scans one; total; scatter
    (column_sums, (np.ones((4, 8), F32), np.zeros(8, F32)), 2),  # tiles, then their totals
    (running_column_sums, (np.ones((4, 8), F32),), 3),  # tiles, carries, tiles scanned
])
def test_kernel_counts(fn, args, count):
    assert kernel_count(kernels(fn, *args).entry.body) == count


def test_black_scholes_is_one_loop_with_two_outputs():
    body = kernels(black_scholes, X + 1, X + 2, X + 1, F32(0.02), F32(0.3)).entry.body
    (loop,) = [s for s in body if isinstance(s, Loop)]
    stores = [s for s in loop.body if type(s).__name__ == "Store"]
    assert len(stores) == 2


@parallel
def spmv(values, columns, offsets, x):
    def row(lo, hi):
        nonzeros = bounded_range(lo, hi)
        return sum(map(op_mul, gather(values, nonzeros), gather(x, gather(columns, nonzeros))))
    return map(lambda i: row(offsets[i], offsets[i + 1]), range(len(offsets) - 1))


def test_spmv_rows_are_read_unchecked_when_their_ranges_are_inside():
    """One kernel; its row loop is made twice: without the per-element checks of the value
    and column reads when both ranges are wholly inside (the column values themselves are
    still checked against x), and as it was otherwise."""
    offsets = np.array([0, 2, 3], np.int32)
    body = kernels(spmv, X[:3], np.zeros(3, np.int32), offsets, X).entry.body
    assert kernel_count(body) == 1
    (loop,) = [s for s in body if isinstance(s, Loop)]
    (versions,) = [s for s in loop.body if isinstance(s, If) and s.cond.startswith("inside")]
    assert re.fullmatch(r"inside_\d+ and inside_\d+", versions.cond)
    fast, slow = versions.then[0], versions.orelse[0]
    tests = lambda r: [s.cond for s in walk(r.body) if isinstance(s, If)]  # noqa: E731
    assert not any(t.startswith("not inside") for t in tests(fast))
    assert len(tests(fast)) == 1  # the column value, read from `columns`, indexing x
    assert sum(t.startswith("not inside") for t in tests(slow)) == 2


@parallel
def spmv_by_subscripts(data, cols, rowptr, x):
    def row(i):
        return sum(map(lambda k: data[k] * x[cols[k]], bounded_range(rowptr[i], rowptr[i + 1])))
    return map(row, range(len(rowptr) - 1))


def test_subscripts_of_an_index_range_are_checked_once_per_range():
    """`data[k]` and `cols[k]` for k in a row's range: the same two versions of the row loop
    as with gathers, the flags computed before it (not per element)."""
    rowptr = np.array([0, 2, 3], np.int64)
    body = kernels(spmv_by_subscripts, X[:3], np.zeros(3, np.int64), rowptr, X).entry.body
    assert kernel_count(body) == 1
    (loop,) = [s for s in body if isinstance(s, Loop)]
    (versions,) = [s for s in loop.body if isinstance(s, If) and s.cond.startswith("inside")]
    flags = set(versions.cond.split(" and "))
    assert len(flags) == 2
    assert flags <= {s.target for s in loop.body if type(s).__name__ == "Assign"}
    fast, slow = versions.then[0], versions.orelse[0]
    tests = lambda r: [s.cond for s in walk(r.body) if isinstance(s, If)]  # noqa: E731
    assert tests(fast) == [t for t in tests(fast) if not t.startswith("not inside")]
    assert len(tests(fast)) == 1  # x[cols[k]]: the column value is still checked
    assert sum(t.startswith("not inside") for t in tests(slow)) == 2


def test_subscripts_of_an_index_range_outside_still_fail_where_they_read():
    rowptr = np.array([0, 2, 5], np.int64)  # the second row runs past data's end
    with pytest.raises(IndexError, match="out of range") as info:
        spmv_by_subscripts(X[:3], np.zeros(3, np.int64), rowptr, X, target_place=cupar.places.cpu)
    assert "test_structure.py" in str(info.value)



@parallel
def halves_gated(g, c):
    """A recurrent cell's shape: each row's gates read at j and at width + j."""
    width = len(c[0])
    return map(lambda grow, crow: map(lambda j: grow[j] * crow[j] + grow[width + j],
                                      range(width)), g, c)


def test_reads_at_a_shifted_index_range_are_checked_once_per_range():
    """`g[width + j]` for j in range(width) is an element of the range shifted by width: it
    is tested by a flag too, computed before the loops with the shift it reads (which the
    element code assigned), and the fast version of the row loop tests nothing."""
    g, c = np.ones((3, 8), F32), np.ones((3, 4), F32)
    body = kernels(halves_gated, g, c).entry.body
    (loop,) = [s for s in body if isinstance(s, Loop)]
    (versions,) = [s for s in walk(loop.body) if isinstance(s, If) and s.cond.startswith("inside")]
    assert len(versions.cond.split(" and ")) == 3  # g[j], c[j], g[width + j]
    fast = versions.then[0]
    assert not [s for s in walk(fast.body) if isinstance(s, If)]
    np.testing.assert_array_equal(halves_gated(g, c, target_place=cupar.places.cpu),
                                  np.full((3, 4), 2, F32))


@pytest.mark.parametrize("place", [cupar.places.here, cupar.places.cpu])
def test_shifted_index_ranges_keep_pythons_index_rules(place):
    """A shift past the end fails where it reads; a negative one counts from the end."""
    with pytest.raises(IndexError, match="out of range") as info:
        halves_gated(np.ones((3, 7), F32), np.ones((3, 4), F32), target_place=place)
    assert "test_structure.py" in str(info.value)
    x = np.arange(6, dtype=F32)
    np.testing.assert_array_equal(back_three(x, target_place=place), np.roll(x, 3))


@parallel
def back_three(x):
    return map(lambda j: x[j - 3], range(len(x)))


@parallel
def costly_rows(x):
    def unit(v):  # more than scalar_code's 12 lets: the row is stored, not recomputed
        a, b, c = tanh(v), exp(-v * v), sin(v) * cos(v)
        d, e = log(1.0 + v * v), sqrt(1.0 + v * v)
        return a * b + c * d - e * a + b * c - d * e + a * c
    return map(lambda row: map(unit, row), x)


def test_rows_a_lambda_stores_are_written_in_place():
    """Each row's values go straight into row i of the result: no array per row, copied."""
    x = np.linspace(-2, 2, 24, dtype=F32).reshape(4, 6)
    body = kernels(costly_rows, x).entry.body
    (loop,) = [s for s in body if isinstance(s, Loop)]
    assert not [s for s in walk(loop.body) if type(s).__name__ == "Alloc"]
    v = x.astype(np.float64)
    a, b, c = np.tanh(v), np.exp(-v * v), np.sin(v) * np.cos(v)
    d, e = np.log(1 + v * v), np.sqrt(1 + v * v)
    expected = a * b + c * d - e * a + b * c - d * e + a * c
    np.testing.assert_allclose(costly_rows(x, target_place=cupar.places.cpu), expected,
                               rtol=1e-5, atol=1e-5)

def walk(stmts):
    for s in stmts:
        yield s
        for part in (getattr(s, "then", ()), getattr(s, "orelse", ()), getattr(s, "body", ())):
            yield from walk(part)


@parallel
def pieces(xss, k):
    """Rows of k of the joined rows, read at `i * k + c`: an im2col derivative's shape."""
    flat = join(xss)
    return map(lambda i: map(lambda c: flat[i * k + c], range(k)), range(len(flat) // k))


@pytest.mark.parametrize("width, k", [(6, 3), (6, 2), (6, 4), (4, 8), (5, 5), (1, 1)])
def test_reads_of_joined_rows_divide_once_per_range(width, k):
    """Where the range i * k + c lies in one row of xss, that row and the first column are
    divided out once per range and the row read contiguously; where it crosses rows (k = 4
    of rows of 6, k = 8 of rows of 4), each element divides, as before. Both agree with
    the interpreter."""
    xss = np.arange(12 * width, dtype=np.int32).reshape(12, width)
    expected = xss.reshape(-1)[:len(xss.reshape(-1)) // k * k].reshape(-1, k)
    for place in (cupar.places.here, cupar.places.cpu):
        np.testing.assert_array_equal(pieces(xss, k, target_place=place), expected)
    body = kernels(pieces, xss, k).entry.body
    versions = [s for s in walk(body) if isinstance(s, If) and "within" in s.cond
                and not s.cond.startswith("not")]  # (a version per serial/parallel loop)
    assert versions
    for v in versions:
        fast, slow = v.then[0], v.orelse[0]
        assert isinstance(fast, Loop) and "//" not in str(fast.body)
        assert "//" in str(slow.body)
