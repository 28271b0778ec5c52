"""The compiled place (cpu, or gpu0) against places.here on the golden programs and every
example's main function.

Integers and everything without a reduction must agree exactly; floating-point reductions may
be reassociated by the parallel code, so they agree to a tolerance derived from the dtype.
"""

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.compiler.kernel_ir import kernel_count
from golden_programs import PROGRAMS
from strategies import COMPILED, ON_GPU
from cupar.dsl.places import to_host
from cupar.testing import assert_places_agree
from test_examples import MAIN_FUNCTIONS, load

cpu = COMPILED  # the compiled place under test


def agree(fn, *args):
    """The compiled place under test gives the interpreter's result (cupar.testing's
    comparison: same structure and dtypes, floats within a dtype- and length-derived
    tolerance)."""
    return assert_places_agree(fn, *args, places=cpu)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_golden_programs(name):
    fn, args = PROGRAMS[name]
    agree(fn, *args)


@pytest.mark.parametrize("name", sorted(MAIN_FUNCTIONS))
def test_examples(name):
    fn_name, make_args = MAIN_FUNCTIONS[name]
    agree(getattr(load(name), fn_name), *make_args())


def compiled(fn, *args) -> bool:
    stages = fn.stages_for(fn.argument_types(args))
    return not isinstance(cpu.compiled_or_reason(stages), str)


def test_the_core_examples_really_compile():
    for name in ("axpy", "black_scholes", "extrema", "mandelbrot", "spmv", "fibonacci", "greeks",
                 "logistic_regression"):
        fn_name, make_args = MAIN_FUNCTIONS[name]
        fn = getattr(load(name), fn_name)
        args = make_args()
        assert compiled(fn, *args), cpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))


# Long enough that the chunked parallel code paths run: at cpu the tests at BIG compile with
# loops running their parallel copies from PARALLEL_FROM elements and every call taking the
# parallel variant (16384 and 65536 otherwise, where the interpreter is slow); its generated
# source says so, so its disk-cache entries are apart. (Under the CUDA simulator, where
# every thread is a Python thread, still several blocks.)
PARALLEL_FROM = 512
BIG = 8 * PARALLEL_FROM + 7 if not ON_GPU else 203


@pytest.fixture
def parallel_paths():
    """For the tests at BIG, whose programs are compiled nowhere else (the examples and
    golden programs keep the disk-cache entries other test files use)."""
    from cupar.runtime.cpu import codegen, engine
    saved = codegen.SERIAL_BELOW, engine.SMALL_CALL
    if not ON_GPU:
        codegen.SERIAL_BELOW, engine.SMALL_CALL = PARALLEL_FROM, 0
    yield
    codegen.SERIAL_BELOW, engine.SMALL_CALL = saved

@parallel
def big_kernels(x, y, idx):
    return (map(lambda a, b: a * 3 + b, x, y),
            sum(map(lambda a: a % 7, x)),
            argmax(x), argmin(y), max(y),
            scan(op_add, x), rscan(op_add, x),
            exclusive_scan(op_add, 5, x), exclusive_rscan(maximum, 0, y),
            [a for a in x if a % 3 == 0],
            permute(x, idx), gather(y, idx), sort(cmp_lt, y), sort(cmp_gt, y),
            shift(x, 3, -1), shift(x, -5, -2), rotate(y, 11),
            reduce(lambda p, q: p if p[0] >= q[0] else q, zip(y, indices(y)), (-1, -1)))


@pytest.mark.usefixtures("parallel_paths")
def test_parallel_paths_agree_with_the_interpreter():
    rng = np.random.default_rng(7)
    x = rng.integers(-1000, 1000, BIG).astype(np.int64)
    y = rng.integers(-50, 50, BIG).astype(np.int32)
    idx = rng.permutation(BIG)
    assert compiled(big_kernels, x, y, idx)
    agree(big_kernels, x, y, idx)


@parallel
def float_kernels(x):
    return sum(x), scan(op_add, x), [v for v in x if v > 0.5], sort(cmp_lt, x)


@pytest.mark.usefixtures("parallel_paths")
@pytest.mark.parametrize("n", [0, 1, 2, BIG])
def test_float_reductions_within_dtype_tolerance(n):
    x = np.random.default_rng(n).random(n).astype(np.float32)
    assert compiled(float_kernels, x)
    agree(float_kernels, x)  # the sum and scan: within 8 eps x n of |x|


@parallel
def ends(x):
    """Associative but not commutative operators: parallel code must keep element order."""
    return (reduce(lambda a, b: a, x, -7), reduce(lambda a, b: b, x, -7),
            scan(lambda a, b: a, x), rscan(lambda a, b: b, x))


@pytest.mark.usefixtures("parallel_paths")
@pytest.mark.parametrize("n", [0, 1, BIG])
def test_reductions_keep_element_order(n):
    x = np.arange(n, dtype=np.int64) * 3 + 1
    assert compiled(ends, x)
    agree(ends, x)


@parallel
def sibling_folds(x):
    """Folds over one range that run as one (compiler/siblings.py): commutative with not,
    inclusive scans, exclusive ones, a tuple with a number."""
    y = map(lambda v: v * 3 - 1, x)  # (recomputed by each consumer: cheap, one array)
    return (sum(x), reduce(lambda a, b: a, y, -7),
            scan(op_add, x), scan(lambda a, b: b, y),
            exclusive_scan(op_add, 1, y), exclusive_scan(maximum, -9, map(lambda v: v % 5, x)),
            reduce(lambda p, q: p if p[0] >= q[0] else q, zip(x, indices(x)), (-1, -1)),
            sum(map(lambda v: v * v, y)))


@pytest.mark.usefixtures("parallel_paths")
@pytest.mark.parametrize("n", [0, 1, BIG])
def test_sibling_folds_run_as_one_and_agree(n):
    rng = np.random.default_rng(n)
    x = rng.integers(-99, 99, n).astype(np.int64)
    stages = sibling_folds.stages_for(sibling_folds.argument_types((x,)))
    assert kernel_count(cpu.compiled_or_reason(stages).kernels.entry.body) == 4
    agree(sibling_folds, x)


@parallel
def window_sums(x, starts):
    """Index checks inside a serial inner loop of a parallel loop (and a sort inside a loop)."""
    return (map(lambda s: sum(gather(x, bounded_range(s, s + 4))), starts),
            map(lambda s: sort(cmp_gt, gather(x, bounded_range(s, s + 3)))[0], starts))


@pytest.mark.usefixtures("parallel_paths")
def test_checks_inside_inner_loops():
    x = np.arange(BIG, dtype=np.int64) % 97
    starts = np.arange(0, BIG - 4, dtype=np.int64)
    # at gpu0 the per-element arrays, of lengths known only inside the loop, are slices of
    # one flat array cut at offsets computed by a kernel beforehand
    assert compiled(window_sums, x, starts)
    agree(window_sums, x, starts)
    with pytest.raises(cupar.errors.CuparIndexError, match="gather index"):
        window_sums(x, np.array([BIG - 2]), target_place=cpu)


@parallel
def affine_scans(a, b):
    """Composing affine maps mod 1009: associative, not commutative, tuple-valued."""
    def then(f, g):
        return (f[0] * g[0] % 1009, (f[1] * g[0] + g[1]) % 1009)
    pairs = zip(a, b)
    return (scan(then, pairs), rscan(then, pairs), exclusive_scan(then, (1, 0), pairs),
            exclusive_rscan(then, (1, 0), pairs))


@pytest.mark.usefixtures("parallel_paths")
@pytest.mark.parametrize("n", [BIG, BIG + 1, BIG + 3])
def test_parallel_scans_of_non_commutative_tuples(n):
    rng = np.random.default_rng(n)
    a, b = rng.integers(1, 1009, (2, n))
    assert compiled(affine_scans, a, b)
    agree(affine_scans, a, b)


@pytest.mark.usefixtures("parallel_paths")
@pytest.mark.parametrize("at", [0, BIG // 2, BIG - 1])
def test_index_errors_in_parallel_loops(at):
    x = np.arange(BIG, dtype=np.int64)
    for bad in (BIG, -BIG - 1):
        idx = np.arange(BIG)
        idx[at] = bad
        with pytest.raises(cupar.errors.CuparIndexError, match="gather index"):
            big_gather(x, idx, target_place=cpu)
        with pytest.raises(cupar.errors.CuparIndexError, match="scatter index|permute index"):
            big_permute(x, idx, target_place=cpu)


@parallel
def big_gather(x, idx):
    return gather(x, idx)


@parallel
def big_permute(x, idx):
    return permute(x, idx)


@parallel
def doubled_rows(x):
    return map(lambda r: map(lambda i: r[i % len(r)] * 2.0, range(2 * len(r))), x)


@pytest.mark.parametrize("rows", [0, 1, 3])
def test_rows_whose_length_each_element_computes_alike(rows):
    """Each row computes its length (2 * len(r), the same for all): the rows' array is
    allocated before the loop with that computation copied out (it once read a name only
    the loop defines, and Numba refused the generated code)."""
    x = np.arange(rows * 3, dtype=np.float64).reshape(rows, 3)
    agree(doubled_rows, x)
    shape = np.shape(to_host(doubled_rows(x, target_place=cpu)))
    assert shape == (rows, 6)  # (no rows: the length a row would have)
