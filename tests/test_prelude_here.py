"""Every sequence primitive of the prelude, run through @parallel functions at places.here and
checked against independent NumPy / pure-Python references (never the prelude itself)."""

from __future__ import annotations

import ast
import builtins

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupar
from cupar import (argmax, argmin, bounded_range, cmp_gt, cmp_lt, exclusive_rscan,
                   exclusive_scan, gather, indices, iterate, join, matmul, maximum,
                   min_bound_el, minimum, op_add, parallel, permute, reduce, reduce_by_index,
                   replicate, rotate, rscan, scan, scatter, shift, sort, split, transpose,
                   unzip, update)
from cupar.dsl import prelude
from cupar.dsl.values import TupleSeq
from cupar.errors import CuparIndexError, CuparValueError
from strategies import (ALL_DTYPES, BOOL_DTYPE, FLOAT_DTYPES, INT_DTYPES, NUMERIC_DTYPES,
                        arrays, assert_close, dtypes, examples, lengths, matrices,
                        permutations, same_length_arrays, scalars)

SETTINGS = examples(50)


def here(fn, *args):
    return fn(*args, target_place=cupar.places.here)


def weak_or(dtype):
    """A scalar to combine with `dtype` values: a NumPy scalar of that dtype or a Python int."""
    return st.one_of(scalars(dtype, lo=-20, hi=20, integral=True), scalars(int, lo=-20, hi=20))


# -- map ----------------------------------------------------------------------------------

@parallel
def map1(xs):
    return map(lambda x: x * 3 + 1, xs)


@parallel
def map2(xs, ys):
    return map(lambda x, y: x - y * 2, xs, ys)


@parallel
def map3(xs, ys, zs):
    return map(lambda x, y, z: x * y + z, xs, ys, zs)


@parallel
def map_const(xs):
    return map(lambda x: 7, xs)


@SETTINGS
@given(arrays())
def test_map_one_sequence(xs):
    before = xs.copy()
    assert_close(here(map1, xs), xs * 3 + 1)
    assert np.array_equal(xs, before)  # inputs are never modified


@SETTINGS
@given(same_length_arrays(2, same_dtype=False))
def test_map_two_sequences_promote(pair):
    xs, ys = pair
    assert_close(here(map2, xs, ys), xs - ys * 2)


@SETTINGS
@given(same_length_arrays(3, dtype=dtypes(), same_dtype=False, lo=-30, hi=30))
def test_map_three_sequences(triple):
    xs, ys, zs = triple
    assert_close(here(map3, xs, ys, zs), xs * ys + zs)


@SETTINGS
@given(arrays())
def test_map_of_weak_constant_is_int64(xs):
    assert_close(here(map_const, xs), np.full(len(xs), 7, dtype=np.int64))


def test_map_ragged_lengths_is_an_error():
    with pytest.raises(CuparValueError):
        here(map2, np.arange(3.0), np.arange(4.0))


# -- reductions ---------------------------------------------------------------------------

@parallel
def reduce_add(xs, init):
    return reduce(op_add, xs, init)


@parallel
def reduce_max(xs):
    return reduce(maximum, xs, min_bound_el(xs))


@parallel
def reduce_first(xs, init):
    return reduce(lambda a, b: a, xs, init)


@parallel
def reduce_last(xs, init):
    return reduce(lambda a, b: b, xs, init)


@SETTINGS
@given(st.data(), arrays(integral=True))
def test_reduce_add(data, xs):
    init = data.draw(weak_or(xs.dtype))
    expected = xs.dtype.type(builtins.sum(int(x) for x in xs) + int(init))
    assert_close(here(reduce_add, xs, init), expected)


@SETTINGS
@given(arrays())
def test_reduce_maximum_with_bound(xs):
    info = np.finfo(xs.dtype) if xs.dtype.kind == "f" else np.iinfo(xs.dtype)
    expected = xs.max() if len(xs) else xs.dtype.type(info.min)
    assert_close(here(reduce_max, xs), expected)


@SETTINGS
@given(st.data(), arrays())
def test_reduce_keeps_operand_order(data, xs):
    """reduce may regroup (associativity) but never swap operands."""
    init = data.draw(scalars(xs.dtype))
    assert_close(here(reduce_first, xs, init), init)
    assert_close(here(reduce_last, xs, init), xs[-1] if len(xs) else init)


@parallel
def total(xs):
    return sum(xs)


@SETTINGS
@given(arrays(dtype=dtypes(NUMERIC_DTYPES), integral=True))
def test_sum(xs):
    expected = xs.dtype.type(builtins.sum(int(x) for x in xs))
    assert_close(here(total, xs), expected)


@SETTINGS
@given(arrays(dtype=dtypes(NUMERIC_DTYPES), lo=-1, hi=1))
def test_sum_of_floats_within_rounding(xs):
    expected = xs.dtype.type(np.sum(xs.astype(np.float64)))
    assert_close(here(total, xs), expected, terms=len(xs),
                 scale=float(np.abs(xs).astype(np.float64).sum()))


@SETTINGS
@given(arrays(dtype=BOOL_DTYPE))
def test_sum_of_bools_counts_as_int64(xs):
    assert_close(here(total, xs), np.int64(np.count_nonzero(xs)))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_sum_of_empty_is_zero_of_the_element_type(dtype):
    expected = np.int64(0) if dtype == BOOL_DTYPE else dtype.type(0)
    assert_close(here(total, np.zeros(0, dtype=dtype)), expected)


@parallel
def any_of(bs):
    return any(bs)


@parallel
def all_of(bs):
    return all(bs)


@parallel
def any_positive(xs):
    return any(map(lambda x: x > 0, xs))


@parallel
def all_positive(xs):
    return all([x > 0 for x in xs])


@SETTINGS
@given(arrays(dtype=BOOL_DTYPE))
def test_any_all(bs):
    assert_close(here(any_of, bs), np.bool_(np.any(bs)))
    assert_close(here(all_of, bs), np.bool_(np.all(bs)))


@SETTINGS
@given(arrays())
def test_any_all_of_a_map(xs):
    assert_close(here(any_positive, xs), np.bool_(bool((xs > 0).any())))
    assert_close(here(all_positive, xs), np.bool_(bool((xs > 0).all())))


@parallel
def min_of(xs):
    return min(xs)


@parallel
def max_of(xs):
    return max(xs)


@parallel
def min2(a, b):
    return min(a, b)


@parallel
def max2(a, b):
    return max(a, b)


@SETTINGS
@given(arrays(length=st.integers(1, 50)))
def test_min_max_of_a_sequence(xs):
    assert_close(here(min_of, xs), xs.min())
    assert_close(here(max_of, xs), xs.max())


SCALAR_KINDS = (int, float) + NUMERIC_DTYPES


def weakify(value, *args):
    """NumPy's result of an operation on `args`, as cupar gives it: a Python number when every
    argument is a Python number (NEP 50 weak scalars), bools staying NumPy bools."""
    if builtins.all(type(a) in (int, float) for a in args) and not isinstance(value, np.bool_):
        return value.item()
    return value


@SETTINGS
@given(st.data(), st.sampled_from(SCALAR_KINDS), st.sampled_from(SCALAR_KINDS))
def test_min_max_of_two_numbers(data, ka, kb):
    a, b = data.draw(scalars(ka, lo=-5, hi=5)), data.draw(scalars(kb, lo=-5, hi=5))
    if type(a) in (int, float) and type(b) in (int, float):
        kind = float if float in (type(a), type(b)) else int
        expected_min, expected_max = kind(b if b < a else a), kind(b if b > a else a)
    else:
        dtype = np.result_type(a, b)
        expected_min = dtype.type(np.minimum(a, b))
        expected_max = dtype.type(np.maximum(a, b))
    assert_close(here(min2, a, b), expected_min)
    assert_close(here(max2, a, b), expected_max)


def test_min_of_empty_is_an_error():
    for empty in (np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64), []):
        with pytest.raises(CuparValueError):
            here(min_of, empty)
        with pytest.raises(CuparValueError):
            here(max_of, empty)


@parallel
def argmin_of(xs):
    return argmin(xs)


@parallel
def argmax_of(xs):
    return argmax(xs)


@SETTINGS
@given(arrays(length=st.integers(1, 50), lo=-4, hi=4))
def test_argmin_argmax_first_of_ties(xs):
    assert_close(here(argmin_of, xs), np.int64(np.argmin(xs)))
    assert_close(here(argmax_of, xs), np.int64(np.argmax(xs)))


def test_argmin_of_empty_is_an_error():
    with pytest.raises(CuparValueError):
        here(argmin_of, np.zeros(0))
    with pytest.raises(CuparValueError):
        here(argmax_of, np.zeros(0, dtype=np.int32))


@parallel
def length(xs):
    return len(xs)


@parallel
def mean(xs):
    return sum(xs) / len(xs)


@SETTINGS
@given(arrays(dtype=dtypes(ALL_DTYPES)))
def test_len_is_a_python_int(xs):
    assert_close(here(length, xs), len(xs))


@SETTINGS
@given(arrays(dtype=dtypes(FLOAT_DTYPES), length=st.integers(1, 50), integral=True))
def test_len_is_weak(xs):
    """x / len(xs) keeps the type of x."""
    expected = xs.dtype.type(builtins.sum(int(x) for x in xs)) / len(xs)
    assert_close(here(mean, xs), expected, dtype=xs.dtype)


# -- constructors ---------------------------------------------------------------------------

@parallel
def range1(n):
    return range(n)


@parallel
def range2(lo, hi):
    return range(lo, hi)


@parallel
def range3(lo, hi, step):
    return range(lo, hi, step)


@parallel
def brange(lo, hi):
    return bounded_range(lo, hi)


@parallel
def indices_of(xs):
    return indices(xs)


INTEGER_KINDS = (int, np.dtype("int32"), np.dtype("int64"))
bound = st.sampled_from(INTEGER_KINDS).flatmap(lambda k: scalars(k, lo=-30, hi=30))


@SETTINGS
@given(bound, bound, bound.filter(lambda s: s != 0))
def test_range(lo, hi, step):
    assert_close(here(range1, hi), np.array(list(builtins.range(int(hi))), dtype=np.int64))
    assert_close(here(range2, lo, hi),
                 np.array(list(builtins.range(int(lo), int(hi))), dtype=np.int64))
    assert_close(here(range3, lo, hi, step),
                 np.array(list(builtins.range(int(lo), int(hi), int(step))), dtype=np.int64))


def test_range_negative_step_and_zero_step():
    assert_close(here(range3, 5, -5, -3), np.array([5, 2, -1, -4], dtype=np.int64))
    with pytest.raises(CuparValueError):
        here(range3, 0, 5, 0)


@SETTINGS
@given(bound, bound)
def test_bounded_range(lo, hi):
    expected = np.array(list(builtins.range(int(lo), int(hi))), dtype=np.int64)
    assert_close(here(brange, lo, hi), expected)


@SETTINGS
@given(arrays(dtype=dtypes(ALL_DTYPES)))
def test_indices(xs):
    assert_close(here(indices_of, xs), np.arange(len(xs), dtype=np.int64))


@parallel
def replicate_of(x, n):
    return replicate(x, n)


@SETTINGS
@given(st.data(), st.sampled_from(SCALAR_KINDS + (BOOL_DTYPE,)), st.integers(-3, 50))
def test_replicate(data, kind, n):
    x = data.draw(scalars(kind))
    stored = {int: np.int64, float: np.float64}.get(kind, getattr(kind, "type", None))
    assert_close(here(replicate_of, x, n), np.full(builtins.max(n, 0), x, dtype=stored))


# -- zip, unzip, enumerate ----------------------------------------------------------------

@parallel
def zip2(xs, ys):
    return zip(xs, ys)


@parallel
def zip3(xs, ys, zs):
    return zip(xs, ys, zs)


@parallel
def unzip_zip(xs, ys):
    return unzip(zip(xs, ys))


@parallel
def pairs_of(xs):
    return map(lambda x: (x, x * 2), xs)


@parallel
def unzip_pairs(xs):
    return unzip(map(lambda x: (x, x * 2), xs))


@parallel
def enumerate_of(xs):
    return enumerate(xs)


@parallel
def index_plus_value(xs):
    return map(lambda p: p[0] + p[1], enumerate(xs))


def check_tuple_seq(ts, columns):
    """`ts` is a sequence of tuples with these columns: len, indexing and iteration give
    tuples of scalars of the column dtypes."""
    assert isinstance(ts, TupleSeq)
    assert len(ts) == len(columns[0])
    assert len(ts.columns) == len(columns)
    for got, want in zip(ts.columns, columns):
        assert_close(got, want)
    rows = list(ts)
    assert len(rows) == len(ts)
    for i, row in enumerate(rows):
        expected = tuple(c[i] for c in columns)
        assert_close(ts[i], expected)
        assert_close(row, expected)


@SETTINGS
@given(same_length_arrays(3, dtype=dtypes(ALL_DTYPES), same_dtype=False))
def test_zip_keeps_its_columns(arrs):
    xs, ys, zs = arrs
    pair = here(zip2, xs, ys)
    check_tuple_seq(pair, (xs, ys))
    assert np.shares_memory(pair.columns[0], xs) or len(xs) == 0
    assert np.shares_memory(pair.columns[1], ys) or len(ys) == 0
    check_tuple_seq(here(zip3, xs, ys, zs), (xs, ys, zs))


@SETTINGS
@given(same_length_arrays(2, same_dtype=False))
def test_unzip(pair):
    xs, ys = pair
    a, b = here(unzip_zip, xs, ys)
    assert_close((a, b), (xs, ys))
    assert len(xs) == 0 or (np.shares_memory(a, xs) and np.shares_memory(b, ys))
    assert_close(here(unzip_pairs, xs), (xs, xs * 2))


@SETTINGS
@given(arrays())
def test_map_returning_tuples_is_a_sequence_of_tuples(xs):
    ts = here(pairs_of, xs)
    check_tuple_seq(ts, (xs, xs * 2))
    first, second = ts.columns
    assert ts.columns[0] is first  # reading the columns does not copy
    assert np.shares_memory(ts.columns[1], second) or len(xs) == 0


@SETTINGS
@given(arrays(dtype=dtypes(ALL_DTYPES)))
def test_enumerate(xs):
    check_tuple_seq(here(enumerate_of, xs), (np.arange(len(xs), dtype=np.int64), xs))


@SETTINGS
@given(arrays())
def test_enumerate_feeds_map(xs):
    assert_close(here(index_plus_value, xs), np.arange(len(xs), dtype=np.int64) + xs)


# -- filter ---------------------------------------------------------------------------------

@parallel
def positives(xs):
    return filter(lambda x: x > 0, xs)


@parallel
def doubled_positives(xs):
    return [x * 2 for x in xs if x > 0]


@SETTINGS
@given(arrays())
def test_filter(xs):
    assert_close(here(positives, xs), xs[xs > 0])
    assert_close(here(doubled_positives, xs), xs[xs > 0] * 2)


# -- data movement ------------------------------------------------------------------------

@parallel
def gather_of(xs, idx):
    return gather(xs, idx)


@parallel
def scatter_of(src, idx, dst):
    return scatter(src, idx, dst)


@parallel
def permute_of(xs, idx):
    return permute(xs, idx)


@parallel
def update_of(dst, idx, values):
    return update(dst, zip(idx, values))


@SETTINGS
@given(st.data(), arrays(dtype=dtypes(ALL_DTYPES)), st.sampled_from(INT_DTYPES))
def test_gather(data, xs, idx_dtype):
    n = len(xs)
    positions = st.integers(-n, n - 1) if n else st.nothing()
    idx = np.array(data.draw(st.lists(positions, max_size=50 if n else 0)), dtype=idx_dtype)
    assert_close(here(gather_of, xs, idx), xs[idx])


def test_gather_out_of_range_is_an_error():
    for bad in (3, -4):
        with pytest.raises(CuparIndexError):
            here(gather_of, np.arange(3.0), np.array([0, bad]))


@st.composite
def scatter_case(draw):
    dst = draw(arrays(dtype=dtypes(ALL_DTYPES)))
    n = len(dst)
    k = draw(st.integers(0, n))
    idx = draw(permutations(n))[:k].astype(draw(st.sampled_from(INT_DTYPES)))
    src = draw(arrays(dtype=dst.dtype, length=k))
    return src, idx, dst


@SETTINGS
@given(scatter_case())
def test_scatter(case):
    src, idx, dst = case
    before = dst.copy()
    expected = dst.copy()
    expected[idx] = src
    assert_close(here(scatter_of, src, idx, dst), expected)
    assert np.array_equal(dst, before)  # dst itself is not modified


@SETTINGS
@given(scatter_case())
def test_update(case):
    src, idx, dst = case
    expected = dst.copy()
    expected[idx] = src
    assert_close(here(update_of, dst, idx, src), expected)


@SETTINGS
@given(st.data(), arrays(dtype=dtypes(ALL_DTYPES)))
def test_permute(data, xs):
    idx = data.draw(permutations(len(xs)))
    expected = np.empty_like(xs)
    expected[idx] = xs
    assert_close(here(permute_of, xs, idx), expected)


@parallel
def histograms_of(dst, idx, values):
    return (reduce_by_index(op_add, dst, idx, values), reduce_by_index(maximum, dst, idx, values),
            reduce_by_index(lambda a, b: minimum(a, b), dst, idx, values))


@SETTINGS
@given(st.data(), arrays(dtype=dtypes(NUMERIC_DTYPES), length=st.integers(1, 10), integral=True,
                         lo=-20, hi=20))
def test_reduce_by_index(data, dst):
    """NumPy's ufunc.at is the reference: repeated and negative indices accumulate."""
    n = len(dst)
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=30)), np.int64)
    values = data.draw(arrays(dtype=dst.dtype, length=len(idx), integral=True, lo=-20, hi=20))
    expected = []
    for ufunc in (np.add, np.maximum, np.minimum):
        out = dst.copy()
        ufunc.at(out, idx, values)
        expected.append(out)
    assert_close(here(histograms_of, dst, idx, values), tuple(expected))


def test_reduce_by_index_of_rows_combines_columns():
    dst, idx = np.zeros((3, 2)), np.array([0, 2, 0, -1])
    rows = np.arange(8.0).reshape(4, 2)
    expected = np.array([[4.0, 6.0], [0.0, 0.0], [8.0, 10.0]])
    assert_close(here(histograms_of, dst, idx, rows)[0], expected)


def test_reduce_by_index_errors():
    with pytest.raises(CuparIndexError, match="reduce_by_index index 3 is out of range"):
        here(histograms_of, np.zeros(3), np.array([0, 3]), np.ones(2))
    with pytest.raises(CuparValueError, match="different lengths"):
        here(histograms_of, np.zeros(3), np.array([0, 1]), np.ones(3))


@parallel
def shift_of(xs, offset, default):
    return shift(xs, offset, default)


@parallel
def rotate_of(xs, offset):
    return rotate(xs, offset)


def shift_reference(xs, k, default):
    n = len(xs)
    out = np.full(n, default, dtype=xs.dtype)
    if k >= 0:
        m = builtins.max(n - k, 0)
        out[:m] = xs[k:k + m]
    else:
        m = builtins.max(n + k, 0)
        out[n - m:] = xs[:m]
    return out


@SETTINGS
@given(st.data(), arrays())
def test_shift(data, xs):
    n = len(xs)
    k = data.draw(st.one_of(st.just(0), st.integers(-n - 3, n + 3)))
    default = data.draw(weak_or(xs.dtype))
    assert_close(here(shift_of, xs, k, default), shift_reference(xs, k, default))


@SETTINGS
@given(st.data(), arrays(dtype=dtypes(ALL_DTYPES)))
def test_rotate(data, xs):
    n = len(xs)
    k = data.draw(st.one_of(st.just(0), st.integers(-2 * n - 3, 2 * n + 3)))
    assert_close(here(rotate_of, xs, k), np.roll(xs, -k))


# -- scans ----------------------------------------------------------------------------------

@parallel
def scan_add(xs):
    return scan(op_add, xs)


@parallel
def rscan_add(xs):
    return rscan(op_add, xs)


@parallel
def xscan_add(init, xs):
    return exclusive_scan(op_add, init, xs)


@parallel
def xrscan_add(init, xs):
    return exclusive_rscan(op_add, init, xs)


@parallel
def scan_max(xs):
    return scan(maximum, xs)


@parallel
def scans_first(init, xs):
    first = lambda a, b: a  # noqa: E731  (associative, not commutative)
    return (scan(first, xs), rscan(first, xs), exclusive_scan(first, init, xs),
            exclusive_rscan(first, init, xs))


@parallel
def scans_last(init, xs):
    def last(a, b):
        return b
    return (scan(last, xs), rscan(last, xs), exclusive_scan(last, init, xs),
            exclusive_rscan(last, init, xs))


def cumsum(values, dtype):
    out, acc = [], 0
    for v in values:
        acc += int(v)
        out.append(acc)
    return np.array(out, dtype=dtype).reshape(len(out))


@SETTINGS
@given(st.data(), arrays(integral=True))
def test_scans_add(data, xs):
    init = data.draw(weak_or(xs.dtype))
    forward, backward = cumsum(xs, xs.dtype), cumsum(xs[::-1], xs.dtype)[::-1]
    assert_close(here(scan_add, xs), forward)
    assert_close(here(rscan_add, xs), backward)
    exclusive = cumsum(np.concatenate([[int(init)], xs[:-1]]), xs.dtype)[:len(xs)]
    assert_close(here(xscan_add, init, xs), exclusive)
    exclusive_r = cumsum(np.concatenate([[int(init)], xs[:0:-1]]), xs.dtype)[:len(xs)][::-1]
    assert_close(here(xrscan_add, init, xs), exclusive_r.copy())


@SETTINGS
@given(arrays())
def test_scan_maximum(xs):
    assert_close(here(scan_max, xs), np.maximum.accumulate(xs))


@SETTINGS
@given(st.data(), arrays())
def test_scans_keep_operand_order(data, xs):
    init = data.draw(scalars(xs.dtype))
    n, full = len(xs), lambda v: np.full(len(xs), v, dtype=xs.dtype)
    got = here(scans_first, init, xs)
    expected = (full(xs[0] if n else 0), xs, full(init),
                np.concatenate([xs[1:], [init]]).astype(xs.dtype)[:n])
    assert_close(got, expected)
    got = here(scans_last, init, xs)
    expected = (xs, full(xs[-1] if n else 0),
                np.concatenate([[init], xs[:-1]]).astype(xs.dtype)[:n], full(init))
    assert_close(got, expected)


# -- sort -----------------------------------------------------------------------------------

@parallel
def sort_lt(xs):
    return sort(cmp_lt, xs)


@parallel
def sort_gt(xs):
    return sort(cmp_gt, xs)


@parallel
def sort_by_abs(xs):
    return sort(lambda a, b: abs(a) < abs(b), xs)


@parallel
def sort_pairs_by_key(keys, values):
    return sort(lambda a, b: a[0] < b[0], zip(keys, values))


@parallel
def sort_pairs_by_key_descending(keys, values):
    return sort(lambda a, b: a[0] > b[0], zip(keys, values))


@SETTINGS
@given(arrays())
def test_sort_cmp_lt_cmp_gt(xs):
    assert_close(here(sort_lt, xs), xs[np.argsort(xs, kind="stable")])
    assert_close(here(sort_gt, xs), xs[np.argsort(-xs, kind="stable")])


@SETTINGS
@given(arrays(dtype=dtypes(INT_DTYPES), lo=-5, hi=5))
def test_sort_user_lambda_is_stable(xs):
    """-3 and 3 tie under |x|: they must keep their input order."""
    assert_close(here(sort_by_abs, xs), xs[np.argsort(np.abs(xs), kind="stable")])


@SETTINGS
@given(arrays(lo=-3, hi=3))
def test_sort_tuples_by_key_is_stable(keys):
    values = np.arange(len(keys), dtype=np.int64)  # the original positions
    up, down = np.argsort(keys, kind="stable"), np.argsort(-keys, kind="stable")
    check_tuple_seq(here(sort_pairs_by_key, keys, values), (keys[up], values[up]))
    check_tuple_seq(here(sort_pairs_by_key_descending, keys, values),
                    (keys[down], values[down]))


# -- sequences of rows (2-D arrays) -------------------------------------------------------

@parallel
def row_sums(m):
    return map(lambda row: sum(row), m)


@parallel
def row_reduce(m):
    return map(lambda row: reduce(op_add, row, 0), m)


@parallel
def doubled_rows(m):
    return map(lambda row: map(lambda x: x * 2, row), m)


@parallel
def replicated_rows(xs):
    return map(lambda x: replicate(x, 3), xs)


@parallel
def element_at(m, i, j):
    return m[i][j]


@parallel
def row_at(m, i):
    return m[i]


def exact_row_sums(m):
    return np.array([builtins.sum(int(v) for v in row) for row in m],
                    dtype=m.dtype).reshape(m.shape[0])


@SETTINGS
@given(matrices(integral=True))
def test_row_sums(m):
    assert_close(here(row_sums, m), exact_row_sums(m))
    assert_close(here(row_reduce, m), exact_row_sums(m))
    assert_close(here(length, m), m.shape[0])


@SETTINGS
@given(matrices())
def test_map_producing_rows(m):
    assert_close(here(doubled_rows, m), m * 2)


@SETTINGS
@given(arrays())
def test_map_producing_replicated_rows(xs):
    result = here(replicated_rows, xs)
    if len(xs):
        assert_close(result, np.repeat(xs[:, None], 3, axis=1))
    else:  # the row length is computed per element, and no element ran: not determined
        assert result.ndim == 2 and result.shape[0] == 0 and result.dtype == xs.dtype


@SETTINGS
@given(st.data(), matrices(max_rows=5, max_cols=5))
def test_rows_index_like_python(data, m):
    rows, cols = m.shape
    if rows:
        i = data.draw(st.integers(-rows, rows - 1))
        assert_close(here(row_at, m, i), m[i])
        if cols:
            j = data.draw(st.integers(-cols, cols - 1))
            assert_close(here(element_at, m, i, j), m[i][j])


# -- sequences of tuples as arguments, tuples as results ----------------------------------

@parallel
def tuple_at(ps, i):
    return ps[i]


@parallel
def tuple_count(ps):
    return len(ps)


@parallel
def stats(xs):
    return (sum(xs), len(xs))


@SETTINGS
@given(same_length_arrays(2, dtype=dtypes(ALL_DTYPES), same_dtype=False,
                          length=st.integers(1, 20)), st.data())
def test_tuple_sequence_arguments(pair, data):
    xs, ys = pair
    ps = TupleSeq((xs, ys))
    i = data.draw(st.integers(-len(xs), len(xs) - 1))
    assert_close(here(tuple_at, ps, i), (xs[i], ys[i]))
    assert_close(here(tuple_count, ps), len(xs))


@SETTINGS
@given(arrays(integral=True))
def test_tuple_result(xs):
    expected = (xs.dtype.type(builtins.sum(int(x) for x in xs)), len(xs))
    assert_close(here(stats, xs), expected)


@SETTINGS
@given(lengths())
def test_weak_literal_elements_become_strong(n):
    assert_close(here(replicate_of, 1.5, n), np.full(n, 1.5))


# -- primitives over sequences of tuples and of rows ----------------------------------------

@parallel
def positive_pairs(xs, ys):
    return filter(lambda p: p[0] > 0, zip(xs, ys))


@parallel
def scan_pairs(xs, ys):
    return scan(lambda a, b: (a[0] + b[0], maximum(a[1], b[1])), zip(xs, ys))


@parallel
def reduce_pairs(xs, ys):
    init = (0, min_bound_el(ys))
    return reduce(lambda a, b: (a[0] + b[0], maximum(a[1], b[1])), zip(xs, ys), init)


@parallel
def nested_zip(xs, ys, zs):
    return zip(zip(xs, ys), zs)


@parallel
def nested_zip_at(xs, ys, zs, i):
    pair, z = zip(zip(xs, ys), zs)[i]
    x, y = pair
    return x + y + z


@SETTINGS
@given(same_length_arrays(2, same_dtype=False, integral=True))
def test_filter_scan_reduce_over_pairs(pair):
    xs, ys = pair
    keep = xs > 0
    check_tuple_seq(here(positive_pairs, xs, ys), (xs[keep], ys[keep]))
    sums = cumsum(xs, xs.dtype)
    check_tuple_seq(here(scan_pairs, xs, ys), (sums, np.maximum.accumulate(ys)))
    low = np.finfo(ys.dtype).min if ys.dtype.kind == "f" else np.iinfo(ys.dtype).min
    expected = (xs.dtype.type(sums[-1] if len(xs) else 0),
                ys.dtype.type(ys.max() if len(ys) else low))
    assert_close(here(reduce_pairs, xs, ys), expected)


@SETTINGS
@given(same_length_arrays(3, same_dtype=False, length=st.integers(1, 20)), st.data())
def test_nested_zip(arrs, data):
    xs, ys, zs = arrs
    nested = here(nested_zip, xs, ys, zs)
    assert isinstance(nested, TupleSeq) and len(nested) == len(xs)
    i = data.draw(st.integers(-len(xs), len(xs) - 1))
    assert_close(nested[i], ((xs[i], ys[i]), zs[i]))
    assert_close(here(nested_zip_at, xs, ys, zs, i), xs[i] + ys[i] + zs[i])


@parallel
def row_scans(m):
    return map(lambda row: scan(op_add, row), m)


@parallel
def row_sorts(m):
    return map(lambda row: sort(cmp_lt, row), m)


@parallel
def gather_rows(m, idx):
    return gather(m, idx)


@parallel
def weighted_rows(m, ws):
    return map(lambda row, w: sum(row) * w, m, ws)


@parallel
def row_index_sums(m):
    return map(lambda p: p[0] + sum(p[1]), enumerate(m))


@parallel
def rows_with_positive_sum(m):
    return filter(lambda row: sum(row) > 0, m)


@parallel
def rotate_rows(m, k):
    return rotate(m, k)


@parallel
def row_positives(m):
    return map(lambda row: filter(lambda x: x > 0, row), m)


@SETTINGS
@given(matrices(integral=True), st.data())
def test_primitives_on_rows(m, data):
    rows = m.shape[0]
    assert_close(here(row_scans, m), np.array([cumsum(r, m.dtype) for r in m],
                                              dtype=m.dtype).reshape(m.shape))
    assert_close(here(row_sorts, m), np.sort(m, axis=1, kind="stable"))
    idx = np.array(data.draw(st.lists(st.integers(0, rows - 1) if rows else st.nothing(),
                                      max_size=10 if rows else 0)), dtype=np.int64)
    assert_close(here(gather_rows, m, idx), m[idx])
    ws = data.draw(arrays(m.dtype, rows, lo=-3, hi=3, integral=True))
    assert_close(here(weighted_rows, m, ws), exact_row_sums(m) * ws)
    assert_close(here(row_index_sums, m), np.arange(rows, dtype=np.int64) + exact_row_sums(m))
    assert_close(here(rows_with_positive_sum, m), m[exact_row_sums(m) > 0])
    k = data.draw(st.integers(-10, 10))
    assert_close(here(rotate_rows, m, k), np.roll(m, -k, axis=0))


@SETTINGS
@given(matrices(dtype=dtypes(INT_DTYPES), max_rows=4, max_cols=4, lo=-2, hi=2))
def test_rows_must_stay_regular(m):
    counts = {int((row > 0).sum()) for row in m}
    if len(counts) > 1:
        with pytest.raises(CuparValueError):
            here(row_positives, m)
    elif m.shape[0]:
        assert_close(here(row_positives, m), m[m > 0].reshape(m.shape[0], counts.pop()))


def test_lists_are_accepted_as_sequences():
    assert_close(here(total, [1, 2, 3]), np.int64(6))
    assert_close(here(total, [1.5, 2]), np.float64(3.5))
    assert_close(here(total, [True, False, True]), np.int64(2))
    assert_close(here(row_sums, [[1, 2], [3, 4]]), np.array([3, 7]))


def test_errors_point_at_the_primitive_in_user_code():
    with pytest.raises(CuparValueError) as info:
        here(min_of, np.zeros(0))
    assert info.value.loc is not None and info.value.loc.file == __file__
    with pytest.raises(CuparIndexError) as info:
        here(gather_of, np.arange(3.0), np.array([5]))
    assert info.value.loc is not None and info.value.loc.file == __file__


# -- matrices ---------------------------------------------------------------------------

@parallel
def matmul_of(a, b):
    return matmul(a, b)


@parallel
def transpose_of(m):
    return transpose(m)


def sum_of_products(a, b):
    """The definition, element by element, in exact (integer-valued) float64 arithmetic."""
    rows = [a] if a.ndim == 1 else list(a)
    cols = [b] if b.ndim == 1 else [b[:, j] for j in range(b.shape[1])]
    out = np.array([[float(builtins.sum(float(x) * float(y) for x, y in zip(r, c)))
                     for c in cols] for r in rows]).reshape(len(rows), len(cols))
    return out[0] if a.ndim == 1 else (out[:, 0] if b.ndim == 1 else out)


@given(st.data(), dtypes(NUMERIC_DTYPES), lengths(6), lengths(6), lengths(6))
@SETTINGS
def test_matmul_is_the_sum_of_products(data, dtype, n, k, m):
    a = data.draw(arrays(dtype, n * k, lo=-9, hi=9, integral=True)).reshape(n, k)
    b = data.draw(arrays(dtype, k * m, lo=-9, hi=9, integral=True)).reshape(k, m)
    v = b[:, 0].copy() if m else np.zeros(k, dtype)
    u = a[0].copy() if n else np.zeros(k, dtype)
    for x, y in ((a, b), (a, v), (u, b)):
        assert_close(here(matmul_of, x, y), sum_of_products(x, y).astype(dtype))


@given(matrices())
@SETTINGS
def test_transpose(m):
    assert_close(here(transpose_of, m), np.ascontiguousarray(m.T))


def test_matmul_errors():
    with pytest.raises(CuparValueError, match="inner lengths 3 and 2 differ"):
        here(matmul_of, np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(cupar.errors.CuparTypeError, match="one element type"):
        here(matmul_of, np.ones((2, 3), np.float32), np.ones((3, 2)))
    with pytest.raises(cupar.errors.CuparTypeError, match="matrices"):
        here(matmul_of, np.ones((2, 3), bool), np.ones((3, 2), bool))
    with pytest.raises(cupar.errors.CuparTypeError, match="transpose takes a matrix"):
        here(transpose_of, np.ones(3))


# -- recurrences --------------------------------------------------------------------------

@parallel
def doubling_states(x, n):
    return iterate(lambda v: map(lambda a: a * 2, v), x, n)


@parallel
def counted_states(x, n):
    return unzip(iterate(lambda s: (s[0] + 1, map(lambda a: a + s[0], s[1])), (0, x), n))


@given(st.data(), dtypes(NUMERIC_DTYPES), lengths(5), st.integers(-1, 5))
@SETTINGS
def test_iterate_gives_the_first_n_states(data, dtype, m, n):
    x = data.draw(arrays(dtype, m, lo=-4, hi=4, integral=True))  # (no int8 overflow)
    expected = np.array([x * 2 ** k for k in range(max(n, 0))], dtype).reshape(max(n, 0), m)
    assert_close(here(doubling_states, x, n), expected)
    counts, states = here(counted_states, x, n)
    assert list(counts) == list(range(max(n, 0)))
    assert_close(states, np.array([x + k * (k - 1) // 2 for k in range(max(n, 0))],
                                  dtype).reshape(max(n, 0), m))


def test_every_sequence_primitive_is_exercised_here():
    """Every name of the prelude is called by some @parallel function of this file."""
    with open(__file__, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    used = {node.id for fn in tree.body if isinstance(fn, ast.FunctionDef)
            and any(getattr(d, "id", None) == "parallel" for d in fn.decorator_list)
            for node in ast.walk(fn) if isinstance(node, ast.Name)}
    assert not set(prelude.__all__) - used


@parallel
def join_then_split(m, k):
    return split(join(m), k)


@given(matrices())
@SETTINGS
def test_join_and_split_reshape_row_major(m):
    rows, cols = m.shape
    assert_close(here(join_then_split, m, max(cols, 1)) if rows * cols else m,
                 m if rows * cols else m)
    if rows * cols:
        assert_close(here(join_then_split, m, rows * cols), m.reshape(1, -1))


def test_split_refuses_a_length_it_does_not_divide():
    with pytest.raises(CuparValueError, match="cannot cut a sequence of length 6"):
        here(join_then_split, np.ones((2, 3)), 4)
