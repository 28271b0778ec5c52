"""Programs the random-program fuzzers found failing, one test per class of failure, each run
at places.here and at the compiled place (cpu, or gpu0 under the simulator) and compared with
NumPy where that is short.

Classes: loops merged though one reads what another scatters (siblings.py); values nothing
reads (they reached the back ends, which met code their generators
were never tried on: a NumPy sort nothing read, a map of one); names that copies of code
took blindly (`p_1 is bound twice`: the front end's renaming of shadowed names and the
instantiation of a polymorphic local function both used `_k` suffixes).
"""

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from strategies import COMPILED, assert_close

PLACES = (cupar.places.here, COMPILED)
G0 = 3


def at_every_place(fn, *args):
    """`fn(*args)` at each place, checked equal; the here result."""
    results = [fn(*args, target_place=place) for place in PLACES]
    for r in results[1:]:
        assert_close(r, results[0])
    return results[0]


def ints(n: int, seed: int = 0, lo: int = -9, hi: int = 10) -> np.ndarray:
    return np.random.default_rng(seed).integers(lo, hi, n).astype(np.int32)


# -- values nothing reads -----------------------------------------------------------------

@parallel
def dead_sort(x):
    t = sort(cmp_lt, x)  # noqa: F841
    return sum(x)


@parallel
def dead_sort_map(x):
    t = map(op_neg, sort(cmp_lt, x))  # noqa: F841
    return sum(x)


@parallel
def dead_everything(x):
    s = scan(op_add, x)  # noqa: F841
    f = filter(lambda v: v > 0, x)  # noqa: F841
    p = scatter(x, map(lambda i: len(x) - 1 - i, indices(x)), x)  # noqa: F841
    pairs = sort(lambda a, b: a[0] < b[0], zip(x, x))  # noqa: F841
    m = max(x) if len(x) > 0 else 0  # noqa: F841
    return map(lambda v: (sort(cmp_gt, x), v + 1)[1], x)


@parallel
def dead_part_of_a_tuple(x):
    a, b = sum(x), sort(cmp_gt, sort(cmp_lt, map(lambda v: v / 2.0, x)))  # noqa: F841
    return a


@parallel
def fuzzed_sort_of_sort(x0):
    t0 = rotate(sort(cmp_gt, shift(scatter(x0, map(lambda i0: len(x0) - 1 - i0, indices(x0)), x0), -2, 3)), 5)  # noqa: E501
    t1, t2 = (max(map(lambda v0, v1: (sum(range(len(x0))) if sum(range(len(x0))) > int64(((v0 + v1) if (v0 + v1) > (6 + v1) else (6 + v1))) else int64(((v0 + v1) if (v0 + v1) > (6 + v1) else (6 + v1)))), scatter(t0, map(lambda i1: (i1 + 3) % len(t0), indices(t0)), t0), t0)) if len(map(lambda v0, v1: (sum(range(len(x0))) if sum(range(len(x0))) > int64(((v0 + v1) if (v0 + v1) > (6 + v1) else (6 + v1))) else int64(((v0 + v1) if (v0 + v1) > (6 + v1) else (6 + v1)))), scatter(t0, map(lambda i1: (i1 + 3) % len(t0), indices(t0)), t0), t0)) > 0 else int64(5)), sort(cmp_gt, sort(cmp_lt, [(v3 / (abs(v2) + 1)) for v2, v3 in zip(x0, t0)]))  # noqa: E501,F841
    t3 = sort(cmp_gt, rscan(op_add, gather(t0, map(lambda v4: v4 % len(t0), t0))))  # noqa: F841
    return gather(x0, filter(lambda i3: (((t1 if t1 <= i3 else i3) - i3) > t1), indices(x0)))


@pytest.mark.parametrize("n", [0, 1, 27])
def test_values_nothing_reads_are_not_computed(n):
    x = ints(n, n)
    assert at_every_place(dead_sort, x) == x.sum()
    assert at_every_place(dead_sort_map, x) == x.sum()
    assert_close(at_every_place(dead_everything, x), x + 1)
    assert at_every_place(dead_part_of_a_tuple, x) == x.sum()


@pytest.mark.parametrize("n", [2, 27, 119])
def test_fuzzed_sort_of_a_sort_nothing_reads(n):
    assert len(at_every_place(fuzzed_sort_of_sort, ints(n, n))) == 0


def test_explain_says_what_is_never_computed():
    stages = cupar.explain(dead_part_of_a_tuple, ints(4), quiet=True)
    assert "sort" not in stages["kernels"].split("kernel function")[1]
    assert "never computed" in stages["kernels"]


# -- names of copies ----------------------------------------------------------------------

@parallel
def fuzzed_lambda_twice(x0, x1, k0):
    def f0(p0):
        v3, v4 = p0
        u0 = (((G0 * v4) if (G0 <= k0) else (v4 if v4 <= int32(G0) else int32(G0))) / (abs((-k0)) + 1))  # noqa: E501
        return (u0 - k0)
    t0 = (max(map(f0, zip(map(lambda v1, v2: (6 + (int32(G0) if int32(G0) <= k0 else k0)), [(k0 - v0) for v0 in x0], gather(x0, map(lambda i1: (i1 * 1 + 3) % len(x0), indices(x0)))), exclusive_scan(lambda a0, b0: a0 + b0, 0, map(op_neg, x1))))) if len(map(f0, zip(map(lambda v1, v2: (6 + (int32(G0) if int32(G0) <= k0 else k0)), [(k0 - v0) for v0 in x0], gather(x0, map(lambda i1: (i1 * 1 + 3) % len(x0), indices(x0)))), exclusive_scan(lambda a0, b0: a0 + b0, 0, map(op_neg, x1))))) > 0 else float64(3.0))  # noqa: E501
    t1 = map(lambda v5: (((k0 / (abs((v5 * k0)) + 1)) if (k0 / (abs((v5 * k0)) + 1)) < ((v5 + k0) * (t0 * G0)) else ((v5 + k0) * (t0 * G0))) + ((k0 - (-t0)) + v5)), scan(op_add, x1))  # noqa: E501
    return zip(scatter(t1, map(lambda i2: (i2 + 4) % len(t1), indices(t1)), t1), exclusive_scan(op_add, 0, range(len(x0))))  # noqa: E501


@parallel
def polymorphic_and_shadowed(x, y):
    def f(p):
        return p + 1
    c = map(lambda p: p * 2, x)  # the front end names this `p` p_1
    return sum(map(f, x)) + sum(map(f, y)) + sum(c)  # f's copy at f64 took p_1 too


@parallel
def add_then_double(v):
    t = v + 1
    return t * 2


@parallel
def caller_with_suffixed_names(x):
    t__0 = map(add_then_double, x)  # the inliner renames the callee's `t` with `__0`
    p_1 = 3

    def f(p):
        return p + p_1
    return sum(t__0) + sum(map(f, x)) + f(2.5)


@pytest.mark.parametrize("n", [0, 1, 5, 27])
def test_the_same_lambda_twice_in_one_expression(n):
    x0, x1 = ints(n, 1), ints(n, 2)
    result = at_every_place(fuzzed_lambda_twice, x0, x1, np.int32(2))
    assert np.array_equal(result.columns[1], np.concatenate([[0], np.cumsum(np.arange(n))[:-1]])
                          if n else np.zeros(0, np.int64))


def test_copies_of_code_take_names_no_one_has():
    x, y = ints(6), np.linspace(0, 1, 6)
    assert at_every_place(polymorphic_and_shadowed, x, y) == \
        (x + 1).sum() + (y + 1).sum() + (2 * x).sum()
    assert at_every_place(caller_with_suffixed_names, x) == \
        (2 * (x + 1)).sum() + (x + 3).sum() + 5.5


@parallel
def used_before_the_name_changes(x):
    t = 1

    def f(v):
        return v + t
    a = map(f, x)
    t = 100
    return map(lambda v: v + t, a)


@parallel
def reads_its_own_locals(x):
    def g(v):
        u = v * 2

        def f(w):
            return w + u
        return sum(map(f, x))
    return map(g, x)


def test_local_functions_read_names_as_python_does():
    """A local function reading a name assigned again before a use is refused (Python would
    read the new value: tests/errors/late_binding.py); these read what Python reads."""
    x = np.arange(3)
    assert_close(at_every_place(used_before_the_name_changes, x), x + 101)
    assert_close(at_every_place(reads_its_own_locals, x), 3 + 6 * x)


# -- NumPy's sort, called from Python ---------------------------------------------------------

@parallel
def sorts_in_both_branches(x, k):
    return (x if k > 0 else sort(cmp_lt, x)) if k > 2 else (x if k > 0 else sort(cmp_gt, x))


@pytest.mark.parametrize("k", [-1, 1, 3])
def test_sorts_in_both_branches_of_a_conditional(k):
    x = ints(9, 3)  # (the two `with numba.objmode` blocks this became made invalid LLVM)
    want = x if k > 0 else (np.sort(x) if k > 2 else np.sort(x)[::-1])
    assert_close(at_every_place(sorts_in_both_branches, x, np.int32(k)), want)


# -- empty sequences of rows ------------------------------------------------------------------

@parallel
def rows_of_nothing(x, y):
    m = map(lambda v: map(lambda w: w + v, y), x)
    return transpose(m), matmul(m, y), map(lambda r: sum(r), transpose(m))


@parallel
def replicated_rows_of_nothing(x, y):
    return transpose(map(lambda v: replicate(argmin(y) if len(y) > 0 else 0, len(y)), x))


def test_rows_of_nothing_have_the_length_the_function_gives():
    assert at_every_place(replicated_rows_of_nothing, np.zeros(0, np.int32),
                          np.arange(3)).shape == (3, 0)  # (rows of a length no type shows)


def test_rows_of_nothing_take_the_length_of_a_value_of_the_function():
    x, y = np.zeros(0, np.int64), np.arange(4, dtype=np.int64)  # (here made them 0 x 0 and
    rows, product, sums = at_every_place(rows_of_nothing, x, y)  # refused the product)
    assert rows.shape == (4, 0) and product.shape == (0,)
    assert_close(sums, np.zeros(4, np.int64))


@parallel
def column_sums_of_nothing(x, y, m):
    return map(lambda v: reduce(lambda a, b: map(op_add, a, b), m, replicate(int32(0), len(y))),
               x)


def test_column_sums_for_each_of_nothing():
    x, y = np.zeros(0, np.int32), np.arange(5)  # (the rows were 0 x 0 at cpu)
    assert at_every_place(column_sums_of_nothing, x, y, np.ones((0, 5), np.int32)).shape == \
        (0, 5)


@parallel
def spin(v):
    return v if v == 5 else spin(v + 2)  # (from 0, never 5: a loop without end)


@parallel
def rows_of_nothing_from_a_loop(x, y):
    return map(lambda v: replicate(spin(v), len(y)), x)


@pytest.mark.xfail(strict=True, reason="here learns the length of rows no length variable "
                   "sizes by running the function on an element of zeros; on which this one "
                   "loops, so here stops it and says 0 (cpu computes len(y) before the loop)")
def test_rows_of_nothing_from_a_function_looping_on_zeros():
    assert at_every_place(rows_of_nothing_from_a_loop, np.zeros(0, np.int32),
                          np.arange(5)).shape == (0, 5)


# -- loops merged into a reduction ------------------------------------------------------------

@parallel
def scatter_then_read_it(y):
    total = sum(y)
    rotated = permute(y, map(lambda i: (i + 2) % len(y), indices(y)))
    moved = update(permute(y, map(lambda i: (i + 5) % len(y), indices(y))),
                   zip(map(lambda i: (i + 1) % len(y), indices(y)), rotated))
    return map(lambda v: where(all(map(lambda w: w == 3, moved)), total, v), y), moved


def test_a_loop_reading_a_scattered_array_is_not_merged_into_the_scatter():
    """The scatters ran inside the sum's loop, and so did the update reading `rotated`
    (element i read rotated[i] before the element writing it ran) and copying the
    destination (before it was written)."""
    y = np.array([0, -4, 5, -6], np.int64)
    rotated = np.empty_like(y)
    rotated[(np.arange(4) + 2) % 4] = y
    moved = np.empty_like(y)
    moved[(np.arange(4) + 5) % 4] = y
    moved[(np.arange(4) + 1) % 4] = rotated
    values, got = at_every_place(scatter_then_read_it, y)
    assert_close(got, moved)
    assert_close(values, y)



# -- scatters inside an element's code ------------------------------------------------------

@parallel
def reversed_minimum_per_row(x0, m):
    """Reduced from a fuzzed program that numba-cuda refused to compile (issue 14): each
    row's code copied x0 with `.copy()`, an allocation inside a kernel."""
    def row_minimum(row):
        flipped = permute(x0, map(lambda i: len(x0) - 1 - i, indices(x0)))
        return min(flipped) if len(flipped) > 0 else int64(9)
    return map(row_minimum, m)


def copies_inside_loops(stmts, inside=False):
    from cupar.compiler.kernel_ir import Assign, Loop
    for s in stmts:
        if inside and isinstance(s, Assign) and ".copy()" in s.expr:
            yield s
        for field in ("then", "orelse", "body"):
            yield from copies_inside_loops(getattr(s, field, ()),
                                           inside or isinstance(s, Loop))


@pytest.mark.parametrize("n", [0, 1, 155])
def test_a_scatter_inside_an_element_allocates_as_kernels_can(n):
    """Its copy of the destination is an Alloc (gpu0 allocates those before the launch,
    one row per element) and a copy loop, never `.copy()` inside a loop."""
    x0 = ints(n, 1).astype(np.int64)
    m = ints(12 * 18, 2).astype(np.int64).reshape(12, 18)
    got = at_every_place(reversed_minimum_per_row, x0, m)
    assert got.dtype == np.int64 and list(got) == [min(x0) if n else 9] * 12
    types = reversed_minimum_per_row.argument_types((x0, m))
    compiled = cupar.places.cpu.compiled_or_reason(reversed_minimum_per_row.stages_for(types))
    assert not [s for fn in compiled.kernels.functions
                for s in copies_inside_loops(fn.body)]
