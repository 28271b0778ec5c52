"""Every primitive at the compiled place (cpu, or gpu0 when CUPAR_COMPILED_PLACE says so)
against places.here (the meaning).

One compiled program per (program, dtype); hypothesis varies lengths (0, 1, random) and data.
Data for sums and scans is integer-valued, so reassociation in parallel code cannot change a
result; everything else must agree exactly or, for floats, within a dtype-derived tolerance.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupar
from cupar import *  # noqa: F403
from strategies import (COMPILED, NUMERIC_DTYPES, ON_GPU, arrays, assert_close, examples,
                        matrices, permutations)

cpu, here = COMPILED, cupar.places.here  # `cpu`: the compiled place under test


def agree(fn, *args, terms: int = 1):
    stages = fn.stages_for(fn.argument_types(args))
    assert not isinstance(cpu.compiled_or_reason(stages), str), cpu.compiled_or_reason(stages)
    assert_close(fn(*args, target_place=cpu), fn(*args, target_place=here), terms=terms)


@parallel
def arithmetic(x, y):
    return map(lambda a, b: (a + b, a - b, a * b, a / b, a // b, a % b, a < b, a == b,
                             maximum(a, b), min(a, b), -a, abs(a)), x, y)


@parallel
def weak_literals(x, k):
    return map(lambda a: (a * 2, a + 1.5, a / 2, a * k, a > 0 and a < 50, float64(a),
                          int32(a) if a > 0 else 0), x)


@parallel
def reductions(x):
    nonempty = len(x) > 0
    return (sum(x), reduce(op_add, x, 3), any(map(lambda a: a > 10, x)),
            all(map(lambda a: a > -90, x)), max(x) if nonempty else max_bound_el(x),
            argmin(x) if nonempty else -1, argmax(x) if nonempty else -1)


@parallel
def scans(x):
    return scan(op_add, x), rscan(op_add, x), exclusive_scan(op_add, 1, x), \
        exclusive_rscan(maximum, min_bound_el(x), x)


@parallel
def movement(x, p):
    kept = [v for v in x if v > 0]
    a, b = unzip(map(lambda p: (p[1], p[0]), enumerate(x)))  # noqa: F841
    return (kept, gather(x, p), permute(x, p), scatter(x, p, x), update(x, zip(p, x)),
            shift(x, 2, x[0] if len(x) > 0 else 0), shift(x, -1, 0), rotate(x, 3), b,
            replicate(7, len(x)), map(lambda i: i * 2, indices(x)), range(len(x)),
            range(len(x), -3, -2), range(1, len(x) * 3, 4))


@parallel
def tuple_movement(x, p):
    pairs = zip(x, map(lambda v: v * 2, x))
    low = min_bound_el(x)
    return (permute(pairs, p), scatter(pairs, p, zip(x, x)), update(pairs, zip(p, pairs)),
            shift(pairs, 2, (low, low)), shift(pairs, -1, (low, x[0] if len(x) > 0 else low)),
            gather(pairs, p))


@parallel
def scatter_pairs(x, idx, dst):
    return scatter(zip(x, map(lambda v: v + 1, x)), idx, zip(dst, dst))


@parallel
def row_filters(m):
    kept = filter(lambda r: sum(r) > 0, m)
    return kept, map(lambda r: sum(r), kept), [r for r in m if len(r) > 0 and r[0] > 0]


@parallel
def sorting(x):
    by_value = sort(lambda p, q: p[0] < q[0], zip(x, indices(x)))  # stable: ties keep order
    return sort(cmp_lt, x), sort(cmp_gt, x), sort(lambda a, b: b < a, x), by_value


@parallel
def rows(m):
    return map(lambda r: sum(r), m), map(lambda r: map(lambda v: v * 2, r), m)


@parallel
def countdown(x):
    def go(i, acc):
        return acc if i == len(x) else go(i + 1, acc + x[i] * 2)
    return go(0, 0)


@parallel
def recurrences(x):
    """iterate: states of a tuple, states read by each step, states that change shape."""
    counted = iterate(lambda s: (s[0] + 1, map(op_add, s[1], x)), (0, x), 3)
    halved = iterate(lambda v: map(lambda i: v[2 * i], range(len(v) // 2)), x, 3)
    return counted, halved, iterate(lambda v: v, x, 0)


PROGRAMS = ["arithmetic", "weak_literals", "reductions", "scans", "movement", "tuple_movement",
            "scatter_pairs", "row_filters", "sorting", "rows", "countdown", "recurrences"]


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(12)
def test_arithmetic(dtype, data):
    x = data.draw(arrays(dtype, integral=True))
    y = data.draw(arrays(dtype, len(x), integral=True, nonzero=True))
    agree(arithmetic, x, y)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(12)
def test_weak_literals(dtype, data):
    agree(weak_literals, data.draw(arrays(dtype)), data.draw(st.integers(-5, 5)))


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(12)
def test_reductions_scans_sorts_loops(dtype, data):
    x = data.draw(arrays(dtype, integral=True))
    for fn in (reductions, scans, sorting, countdown, recurrences):
        agree(fn, x, terms=max(len(x), 1))


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(12)
def test_movement(dtype, data):
    x = data.draw(arrays(dtype, integral=True))
    p = data.draw(permutations(len(x)))
    for fn in (movement, tuple_movement):  # (scatters of tuples, shifts of tuples too)
        agree(fn, x, p)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(8)
def test_rows(dtype, data):
    m = data.draw(matrices(dtype, integral=True))
    for fn in (rows, row_filters):
        agree(fn, m, terms=max(m.shape[1], 1))


@given(data=st.data())
@examples(25)
def test_scattered_tuples_land_whole_where_indices_repeat(data):
    """With repeated indices one of the pairs sent to a place lands, never a mix of two."""
    x = data.draw(arrays(np.int64, integral=True))
    n = data.draw(st.integers(1, 8))
    idx = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=len(x), max_size=len(x))),
                   dtype=np.int64)
    dst = np.arange(n, dtype=np.int64) * 1000
    first, second = (np.asarray(c) for c in scatter_pairs(x, idx, dst, target_place=cpu).columns)
    for j in range(n):
        sent = {(int(x[k]), int(x[k]) + 1) for k in np.flatnonzero(idx == j)}
        assert (int(first[j]), int(second[j])) in (sent or {(int(dst[j]), int(dst[j]))})


@parallel
def column_folds(m, start):
    """Reductions whose elements are rows: folds of the columns (a built-in operator, a
    lambda, and the map's arguments the other way round: with an associative but not
    commutative operator, keep-the-first, that fold gives the last row, so it sees any
    change in the order of the rows)."""
    top = lambda a, b: a if a > b else b  # noqa: E731
    return (reduce(lambda a, b: map(op_add, a, b), m, start),
            reduce(lambda a, b: map(top, a, b), m, start),
            reduce(lambda a, b: map(lambda u, v: u, b, a), m, start))


@parallel
def column_scans(m, start):
    """Scans whose elements are rows (running column sums), each way; keep-the-first is
    associative but not commutative, so its scans see any change in the order of the rows
    (forward it repeats the first row, backward the last)."""
    first = lambda a, b: map(lambda u, v: u, a, b)  # noqa: E731
    return (scan(lambda a, b: map(op_add, a, b), m), rscan(first, m), scan(first, m),
            exclusive_scan(lambda a, b: map(op_add, a, b), start, m),
            exclusive_rscan(lambda a, b: map(lambda u, v: v, b, a), start, m))


@pytest.mark.parametrize("program", [column_folds, column_scans], ids=lambda p: p.name)
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data())
@examples(12)
def test_column_folds_and_scans(program, dtype, data):
    m = data.draw(matrices(dtype, integral=True, lo=-3, hi=3))
    start = data.draw(arrays(dtype, m.shape[1], integral=True, lo=-3, hi=3))
    agree(program, m, start)


@pytest.mark.parametrize("program", [column_folds, column_scans], ids=lambda p: p.name)
def test_column_folds_and_scans_of_a_tall_matrix(program):
    """Several rows per chunk, chunks of unequal size: every row still counts, in order
    (a scan's chunks start from the carry of the chunks before them)."""
    m = (np.arange(203 * 37, dtype=np.int64).reshape(203, 37) * 7919) % 101 - 50
    agree(program, m, np.arange(37, dtype=np.int64))


def test_column_folds_check_the_start_like_map():
    m, short = np.ones((3, 4), np.int64), np.zeros(2, np.int64)
    with pytest.raises(cupar.errors.CuparValueError, match="different lengths"):
        column_folds(m, short, target_place=cpu)
    for got, want in zip(column_folds(m[:0], short, target_place=cpu),
                         column_folds(m[:0], short, target_place=here)):
        assert_close(got, want)  # no rows: nothing to map over, the start comes back


def test_column_scans_check_the_start_like_map():
    short = np.zeros(2, np.int64)
    for rows in (1, 3):
        with pytest.raises(cupar.errors.CuparValueError, match="different lengths"):
            column_scans(np.ones((rows, 4), np.int64), short, target_place=cpu)
    m = np.ones((0, 4), np.int64)  # no rows: nothing to map over
    got, want = column_scans(m, short, target_place=cpu), column_scans(m, short, target_place=here)
    for k in range(5):  # (`zip` is cupar's here)
        assert_close(np.asarray(got[k]).ravel(), np.asarray(want[k]).ravel())


@parallel
def windows(x, lo, hi, starts):
    return (gather(x, bounded_range(lo, hi)),
            map(lambda s: sum(gather(x, bounded_range(s, s + 3))), starts))


@given(data=st.data())
@examples(40)
def test_gather_of_a_range_checks_like_python(data):
    """A gathered index range is checked once when wholly inside, else per element: ranges
    reaching past either end, negative ones (counted from the end) and ones crossing zero
    must give the interpreter's value or its error."""
    x = data.draw(arrays("int64", integral=True))
    n = len(x)
    lo, hi = data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2))
    starts = np.array(data.draw(st.lists(st.integers(-n - 3, n + 1), max_size=5)), np.int64)
    outcomes = []
    for place in (cpu, here):
        try:
            outcomes.append(windows(x, lo, hi, starts, target_place=place))
        except cupar.errors.CuparIndexError:
            outcomes.append("index error")
    if "index error" in outcomes:
        assert outcomes[0] == outcomes[1] == "index error", outcomes
    else:
        assert_close(*outcomes)


@parallel
def number_sorts(x):
    return sort(cmp_lt, x), sort(cmp_gt, x)


def specials(dtype, nan: bool):
    values = [0.0, -0.0, 1.5, -1.5, 2.0, -np.inf, np.inf] + ([np.nan, -np.nan] if nan else [])
    return st.lists(st.sampled_from(values), max_size=40).map(lambda v: np.array(v, dtype))


def bits(a):
    return np.asarray(a).view(f"u{np.asarray(a).dtype.itemsize}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
@examples(15)
def test_number_sorts_keep_equal_zeros_in_order(dtype, data):
    """-0.0 == 0.0: a stable sort keeps them in input order (compared bit for bit)."""
    x = data.draw(specials(dtype, nan=False))
    got, want = number_sorts(x, target_place=cpu), number_sorts(x, target_place=here)
    for k in range(2):  # (`zip` here is cupar's)
        np.testing.assert_array_equal(bits(got[k]), bits(want[k]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
@examples(15)
def test_number_sorts_put_nan_last_ascending_and_first_descending(dtype, data):
    """NaN is no strict weak order (the interpreter's answer depends on its merge order);
    the compiled places sort it last ascending, first descending, the rest as without it."""
    x = data.draw(specials(dtype, nan=True))
    up, down = (np.asarray(r) for r in number_sorts(x, target_place=cpu))
    numbers, nans = x[~np.isnan(x)], int(np.isnan(x).sum())
    want_up, want_down = number_sorts(numbers, target_place=here)
    assert np.isnan(up[len(numbers):]).all() and np.isnan(down[:nans]).all()
    np.testing.assert_array_equal(bits(up[:len(numbers)]), bits(want_up))
    np.testing.assert_array_equal(bits(down[nans:]), bits(want_down))


def test_number_sorts_keep_many_scattered_zeros_in_order():
    """Zeros of both signs spread over many chunks, among other numbers (NumPy's SIMD sort
    alone may turn one zero into the other)."""
    rng, n = np.random.default_rng(5), 200 if ON_GPU else 2000  # (the simulator is slow)
    x = rng.integers(-3, 4, n).astype(np.float64)
    x[rng.random(n) < 0.5] *= -1  # about half of the zeros become -0.0
    got, want = number_sorts(x, target_place=cpu), number_sorts(x, target_place=here)
    for k in range(2):
        np.testing.assert_array_equal(bits(cupar.places.to_host(got[k])), bits(want[k]))
