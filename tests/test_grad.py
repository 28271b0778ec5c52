"""cupar.grad, value_and_grad and vjp: every adjoint rule against finite differences in
float64, at places.here and at the compiled place (cpu, or gpu0 under the simulator), the
derived programs' structure, their dtypes and shapes, and their errors."""

import re

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.compiler.kernel_ir import kernel_count
from gradcheck import check_gradient
from strategies import COMPILED, ON_GPU, assert_close

here = cupar.places.here
PLACES = [here, COMPILED]
RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape) if shape else np.float64(RNG.standard_normal())


def away_from_zero(*shape):
    x = RNG.uniform(0.5, 2.0, shape)
    return x * np.where(RNG.random(shape) < 0.5, -1, 1)


# -- programs, one or a few rules each ------------------------------------------------------

@parallel
def scalar_ops(x, y):
    return sum(map(lambda a, b: (a * b - a / b + b ** 2.0 + a ** 3) * 0.5 + (-a) + (+b) % 7.0,
                   x, y))


@parallel
def math_ops(x, y):
    def f(a, b):
        return (exp(a) + log(abs(a)) + sqrt(abs(b)) + tanh(a) + sin(b) + cos(a) + pow(abs(a), b)
                + sigmoid(a - b)
                + maximum(a, b) + minimum(a, b) + max(a, 2.0 * b) + min(a, -b)
                + where(a > b, a * a, b))
    return sum(map(f, x, y))


@parallel
def casts(x):
    return float64(sum(map(lambda a: float32(a) * float32(2.0) + cast_to(a, a), x)))


@parallel
def closure_over_scalar(x, w, c):
    return sum(map(lambda a: a * w + c * w * w, x))


@parallel
def nested_rows(m, v):
    def row(r):
        s = sum(map(lambda a, b: a * b, r, v))
        return sum(map(lambda a: tanh(a * s), r))
    return sum(map(row, m))


@parallel
def softmax_cross_entropy(logits, labels):
    def row_loss(row, label):
        m = max(row)
        z = sum(map(lambda v: exp(v - m), row))
        return log(z) + m - row[label]
    return sum(map(row_loss, logits, labels)) / float64(len(labels))


@parallel
def reductions(x, w):
    return reduce(op_add, x, w) * 2.0 + max(x) - min(x) + reduce(maximum, x, w) + \
        reduce(minimum, map(lambda v: v * v, x), w)


@parallel
def scans(x, w):
    a = scan(op_add, x)
    b = rscan(op_add, map(lambda v: v * v, x))
    c = exclusive_scan(op_add, w, x)
    d = exclusive_rscan(op_add, w * w, x)
    return sum(map(lambda p, q, r, s: p * q + r * s * s, a, b, c, d))


@parallel
def structure(x, y):
    p, q = unzip(map(lambda a, b: (a * b, a - b), x, y))
    pairs = zip(p, q)
    e = map(lambda iv: float64(iv[0]) * iv[1], enumerate(p))
    t = (sum(p), sum(q))
    s, u = t
    return sum(map(lambda ab: ab[0] * ab[1], pairs)) + sum(e) + s * u + x[0] * x[-1]


@parallel
def generators(x, w):
    n = len(x)
    r = replicate(w, n)
    k = map(lambda i: float64(i), indices(x))
    g = map(lambda i: float64(i) * x[i], range(n))
    return sum(map(lambda a, b, c: a * b + c, r, k, g)) + sum(shift(x, 2, w)) + \
        sum(map(op_mul, rotate(x, 3), x))


@parallel
def by_index(x, idx, y, perm):
    g = gather(x, idx)
    s = scatter(map(lambda v: v * v, y), perm, x)
    u = update(x, zip(perm, y))
    p = permute(y, perm)
    return sum(map(lambda v: v * v, g)) + sum(map(lambda a, b: a * b * b, s, u)) + \
        sum(map(op_mul, p, p))


@parallel
def filter_and_sort(x):
    kept = filter(lambda v: v > 0.0, x)
    ordered = sort(cmp_lt, x)
    return sum(map(lambda v: v * v, kept)) + sum(map(lambda v, i: v * float64(i),
                                                     ordered, indices(ordered)))


@parallel
def branches(x, w):
    if w > 0.0:
        y = map(lambda v: v * w, x)
    else:
        y = map(lambda v: v - w, x)
    return sum(map(lambda v: v * v if v > 0.0 else exp(v), y))


@parallel
def captured_index(x, idx):
    n = len(x)
    return sum(map(lambda i: x[i] * x[(i + 1) % n] if x[i] > 0.0 else x[i] * 3.0, idx))


@parallel
def embedding(table, idx):
    return sum(map(lambda i: sum(map(lambda v: v * v, table[i])), idx))


@parallel
def row_bias(m, b):
    return sum(map(lambda r: sum(map(lambda v: v * v, map(op_add, r, b))), m))


@parallel
def newton_sqrt(a):
    def step(x, k):
        if k == 0:
            return x
        return step(0.5 * (x + a / x), k - 1)
    return step(a, 6)


@parallel
def sqrt_sum(xs):
    return sum(map(newton_sqrt, xs))


@parallel
def power_loop(x, p, k):
    return x if k == 0 else power_loop(x * p, p, k - 1)


@parallel
def powers(xs, p):
    return sum(map(lambda v: power_loop(v, p, 4), xs))


@parallel
def matrix_loop(x, w, k):
    """A loop whose state and captures are matrices, their gradients then read elementwise
    (a field of the backward loop's tuple result was once indexed as `result[4, i, j]`)."""
    def run(t, h):
        if t == k:
            return h
        return run(t + 1, map(lambda r: map(tanh, r), matmul(h, w)))
    h = run(0, map(lambda r: map(sin, r), x))
    return sum(map(lambda r: sum(map(lambda a: a * a, r)), h))


@parallel
def halving_loop(x, w, k):
    """A recorded loop whose state's length changes: nothing is recorded, and the backward
    loop recomputes each state, and the next one its step's derivative reads."""
    def run(t, h):
        if t == k:
            return h
        return run(t + 1, map(lambda i: tanh(h[2 * i] * w + h[2 * i + 1]),
                              range(len(h) // 2)))
    return sum(map(lambda a: a * a, run(0, map(sin, x))))


@parallel
def plus(a, b):
    """A bias added to each row, as `linear` adds it."""
    return map(lambda r: map(lambda u, v: u + v, r, b), a)


@parallel
def carried_product_loop(x, w, k):
    """`matrix_loop` with the product carried into the next step, as the recurrent layers
    carry theirs: the step's derivative reads the recorded product and never computes the
    next one, whose value nothing reads."""
    def run(t, h, p):
        if t == k:
            return h
        h_new = map(lambda r: map(tanh, r), p)
        return run(t + 1, h_new, plus(matmul(h_new, w), w[0]))
    h0 = map(lambda r: map(sin, r), x)
    h = run(0, h0, plus(matmul(h0, w), w[0]))
    return sum(map(lambda r: sum(map(lambda a: a * a, r)), h))


@parallel
def calls_helper(x):
    return scalar_ops(x, map(lambda v: v + 3.0, x))


CASES = {
    "scalar_ops": (scalar_ops, lambda: (away_from_zero(9), away_from_zero(9)), (0, 1)),
    "math": (math_ops, lambda: (away_from_zero(9), away_from_zero(9)), (0, 1)),
    "closure": (closure_over_scalar, lambda: (normal(7), normal(), normal()), (0, 1, 2)),
    "nested_rows": (nested_rows, lambda: (normal(4, 5), normal(5)), (0, 1)),
    "softmax_xent": (softmax_cross_entropy,
                     lambda: (normal(5, 7), RNG.integers(0, 7, 5)), (0,)),
    "reductions": (reductions, lambda: (normal(9), np.float64(-5.0)), (0, 1)),
    "scans": (scans, lambda: (normal(8), normal()), (0, 1)),
    "structure": (structure, lambda: (normal(6), normal(6)), (0, 1)),
    "generators": (generators, lambda: (normal(8), normal()), (0, 1)),
    "by_index": (by_index, lambda: (normal(6), RNG.integers(-6, 6, 10), normal(6),
                                    RNG.permutation(6)), (0, 2)),
    "filter_and_sort": (filter_and_sort, lambda: (away_from_zero(10),), (0,)),
    "branches+": (branches, lambda: (away_from_zero(7), np.float64(1.5)), (0, 1)),
    "branches-": (branches, lambda: (away_from_zero(7), np.float64(-1.5)), (0, 1)),
    "captured_index": (captured_index, lambda: (away_from_zero(8), RNG.integers(0, 8, 12)),
                       (0,)),
    "embedding": (embedding, lambda: (normal(6, 3), RNG.integers(0, 6, 9)), (0,)),
    "row_bias": (row_bias, lambda: (normal(4, 3), normal(3)), (0, 1)),
    "nested_def_loop": (sqrt_sum, lambda: (RNG.uniform(0.5, 3.0, 5),), (0,)),
    "loop": (powers, lambda: (normal(5), np.float64(1.3)), (0, 1)),
    "matrix_loop": (matrix_loop, lambda: (normal(3, 4), normal(4, 4) * 0.5, 3), (0, 1)),
    "halving_loop": (halving_loop, lambda: (normal(16), np.float64(0.7), 3), (0, 1)),
    "calls_helper": (calls_helper, lambda: (RNG.uniform(0.5, 2.0, 6),), (0,)),
}


DERIVED: dict = {}  # case -> its value_and_grad, shared so each program compiles once


def derived(case: str):
    if case not in DERIVED:
        fn, _, argnums = CASES[case]
        DERIVED[case] = cupar.value_and_grad(fn, argnums)
    return DERIVED[case]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_finite_differences(case, place):
    fn, make, argnums = CASES[case]
    args = make()
    grads = check_gradient(fn, args, argnums, place=place, rng=np.random.default_rng(1),
                           derived=derived(case))
    for k, g in zip(argnums, grads):  # each gradient has its argument's dtype and shape
        g = np.asarray(cupar.places.to_host(g))
        assert g.shape == np.shape(args[k]) and g.dtype == np.float64


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_gradient_agrees_with_the_interpreter(case):
    fn, make, argnums = CASES[case]
    args = make()
    value_and_grads = derived(case)
    expected = value_and_grads(*args, target_place=here)
    actual = value_and_grads(*args, target_place=COMPILED)
    assert_close(actual, expected, terms=64, scale=10.0)


def test_analytic_gradients():
    x = np.linspace(0.5, 3.0, 6)
    assert_close(cupar.grad(casts)(x), np.full_like(x, 3.0))  # through float32 and back
    assert_close(cupar.grad(sqrt_sum)(x), 0.5 / np.sqrt(x), terms=16)
    p = np.float64(1.3)
    dx, dp = cupar.grad(powers, (0, 1))(x, p)
    assert_close(dx, np.full_like(x, p ** 4), terms=8)
    assert_close(dp, np.float64(np.sum(4 * x * p ** 3)), terms=8)


@parallel
def half_stopped(x):
    return sum(map(lambda v: v * stop_gradient(v) + stop_gradient(v * v), x))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_no_derivative_flows_through_stop_gradient(place):
    x = np.linspace(-2.0, 3.0, 7)
    value, g = cupar.value_and_grad(half_stopped)(x, target_place=place)
    assert_close(value, np.sum(2 * x * x), terms=14)
    assert_close(g, x)  # d(v * c)/dv with c = v held: c, not 2 v


# -- dtypes, shapes, values -----------------------------------------------------------------

@parallel
def sum_of_squares(x):
    return sum(map(lambda v: v * v, x))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_float32_stays_float32_and_lengths_0_and_1(place, dtype, n):
    x = np.arange(n, dtype=dtype)
    value, g = cupar.value_and_grad(sum_of_squares)(x, target_place=place)
    assert_close(value, dtype(np.sum(x * x)), terms=n)
    assert_close(g, 2 * x)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_matrix_gradient_keeps_its_shape(place):
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    v = np.ones(3, np.float32)
    dm, dv = cupar.grad(row_bias, (0, 1))(m, v, target_place=place)
    assert_close(dm, 2 * (m + v))
    assert_close(dv, np.sum(2 * (m + v), axis=0), terms=2)


def test_grad_works_inside_with_place_and_by_default():
    x = np.arange(4.0)
    with here:
        assert_close(cupar.grad(sum_of_squares)(x), 2 * x)
    assert_close(cupar.grad(sum_of_squares)(x), 2 * x)


@parallel
def pairs_out(x, w):
    return map(lambda v: (v * w, exp(v)), x)


@parallel
def rows_out(m):
    return map(lambda r: map(lambda v: v * sum(r), r), m)


@parallel
def tuple_out(x):
    return (sum(x), map(lambda v: v * v, x))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_vjp_of_sequences_tuples_and_matrices(place):
    x = np.arange(4, dtype=np.float32)
    value, pullback = cupar.vjp(pairs_out, x, np.float32(2), target_place=place)
    ones = np.ones(4, np.float32)
    ct = cupar.dsl.values.TupleSeq((ones, ones))
    dx, dw = pullback(ct)
    assert_close(dx, 2 + np.exp(x))
    assert_close(dw, np.float32(np.sum(x)), terms=4)

    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    value, pullback = cupar.vjp(rows_out, m, target_place=place)
    (dm,) = pullback(np.ones((2, 3), np.float32))
    assert_close(dm, np.repeat(2 * m.sum(axis=1, keepdims=True), 3, axis=1), terms=6)

    value, pullback = cupar.vjp(tuple_out, x, target_place=place)
    (dx,) = pullback((np.float32(2), ones))
    assert_close(dx, 2 + 2 * x)


def test_vjp_argnums_and_none_for_integers():
    @parallel
    def scaled(x, n):
        return map(lambda v: v * float64(n), x)
    x = np.arange(3.0)
    _, pullback = cupar.vjp(scaled, x, 4)
    dx, dn = pullback(np.ones(3))
    assert dn is None
    assert_close(dx, np.full(3, 4.0))
    _, pullback = cupar.vjp(scaled, x, 4, argnums=0)
    assert_close(pullback(np.ones(3)), np.full(3, 4.0))


def test_grad_of_a_gradient_is_refused():
    with pytest.raises(cupar.errors.CuparTypeError, match="higher derivatives"):
        cupar.grad(cupar.grad(sum_of_squares))


# -- structure: the derived program fuses ---------------------------------------------------

@parallel
def elementwise_chain(x):
    return sum(map(lambda v: exp(sin(v) * 2.0) + v * v, x))


def kernels_of(fn, *args):
    stages = fn.stages_for(fn.argument_types(args))
    compiled = cupar.places.cpu.compiled_or_reason(stages)
    assert not isinstance(compiled, str), compiled
    return kernel_count(compiled.kernels.entry.body)


@pytest.mark.skipif(ON_GPU, reason="kernel counts are a cpu property")
def test_backward_of_an_elementwise_chain_is_one_loop():
    x = np.arange(8.0)
    assert kernels_of(cupar.grad(elementwise_chain), x) == 1
    # the value is a reduction; the adjoints' map runs inside it: one pass over x
    assert kernels_of(cupar.value_and_grad(elementwise_chain), x) == 1


def test_explain_shows_the_derived_program():
    stages = cupar.explain(cupar.grad(sum_of_squares), np.arange(3.0), quiet=True)
    assert "differentiate" in stages
    assert "def grad_sum_of_squares(" in stages["differentiate"]
    assert "kernels" in stages


def test_cupar_dump_prints_the_derivative(monkeypatch, capsys):
    monkeypatch.setenv("CUPAR_DUMP", "differentiate")
    cupar.grad(elementwise_chain)(np.arange(3.0), target_place=here)
    assert "after differentiate" in capsys.readouterr().out


# -- errors -------------------------------------------------------------------------------

@parallel
def product(x):
    return reduce(op_mul, x, 1.0)


@parallel
def ping(x, k):
    return x if k <= 0 else pong(x * 2.0, k - 1)


@parallel
def pong(x, k):
    return ping(x + 1.0, k - 1)


@parallel
def uses_ping(x):
    return sum(map(lambda v: ping(v, 3), x))


def test_errors_are_located_and_say_what_is_allowed():
    x = np.arange(3.0)
    errors = cupar.errors
    with pytest.raises(errors.CuparTypeError, match="only reductions by op_add"):
        cupar.grad(product)(x)
    with pytest.raises(errors.CuparTypeError, match="call each other"):
        cupar.grad(uses_ping)(x)
    with pytest.raises(errors.CuparTypeError, match="float number"):
        cupar.grad(rows_out)(np.ones((2, 2)))
    with pytest.raises(errors.CuparTypeError, match="argnums asks for argument 3"):
        cupar.grad(sum_of_squares, argnums=3)(x)
    with pytest.raises(errors.CuparTypeError, match="argnums must be"):
        cupar.grad(sum_of_squares, argnums="x")
    with pytest.raises(errors.CuparTypeError, match="takes no out="):
        cupar.grad(sum_of_squares)(x, out=np.empty(3))
    _, pullback = cupar.vjp(pairs_out, x, 2.0)
    with pytest.raises(errors.CuparValueError, match="cotangent does not match") as info:
        pullback(np.ones(3))
    assert info.value.loc is not None and info.value.loc.file == __file__


# -- PyTorch as an oracle, where installed (it is not a dependency) -------------------------

def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch is not installed: its autograd is an "
                                               "optional oracle (pip install torch)")


def test_softmax_cross_entropy_against_torch():
    torch = torch_or_skip()
    logits, labels = normal(6, 5), RNG.integers(0, 5, 6)
    t = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(t, torch.tensor(labels)).backward()
    for place in PLACES:
        got = cupar.grad(softmax_cross_entropy)(logits, labels, target_place=place)
        assert_close(got, t.grad.numpy(), terms=32)


def test_rows_tanh_and_embedding_against_torch():
    torch = torch_or_skip()
    m, v = normal(4, 5), normal(5)
    tm, tv = (torch.tensor(a, requires_grad=True) for a in (m, v))
    s = (tm * tv).sum(dim=1, keepdim=True)
    torch.tanh(tm * s).sum().backward()
    for place in PLACES:
        dm, dv = cupar.grad(nested_rows, (0, 1))(m, v, target_place=place)
        assert_close(dm, tm.grad.numpy(), terms=32, scale=1.0)
        assert_close(dv, tv.grad.numpy(), terms=32, scale=1.0)
    table, idx = normal(7, 3), RNG.integers(0, 7, 11)
    tt = torch.tensor(table, requires_grad=True)
    (tt[torch.tensor(idx)] ** 2).sum().backward()
    for place in PLACES:
        assert_close(cupar.grad(embedding)(table, idx, target_place=place), tt.grad.numpy(),
                     terms=16)


def test_every_primitive_has_an_adjoint_rule_or_a_reason():
    from cupar.compiler.adjoints import CONSTANT, REJECTED, RULES, STRUCTURAL
    from cupar.compiler.primitives import PRIMITIVES
    missing = [p for p in PRIMITIVES if p not in set(RULES) | CONSTANT | STRUCTURAL | set(REJECTED)]
    assert not missing, f"primitives without an adjoint rule or a reason: {missing}"


@parallel
def through_python_float(x):
    return sum(map(lambda v: float32(float(v) * 3.0), x))


def test_python_float_passes_the_gradient():
    x = np.arange(3, dtype=np.float32)
    for place in PLACES:
        assert_close(cupar.grad(through_python_float)(x, target_place=place), np.full(3, 3.0,
                                                                                      np.float32))


@parallel
def unused_sort(x):
    s = sort(cmp_lt, x)  # noqa: F841  (nothing reads it: found by the grad fuzzer)
    return sum(map(lambda v: v * v, x))


def test_a_sort_nothing_reads_compiles():
    x = np.arange(4.0)
    assert unused_sort(x) == 14.0
    assert_close(cupar.grad(unused_sort)(x), 2 * x)


@parallel
def pairs_and_tuple(pairs, t):
    a, b = t
    return sum(map(lambda p: p[0] * p[1] * a, pairs)) + b * b


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_sequences_of_tuples_and_tuples_keep_their_structure(place):
    TupleSeq = cupar.dsl.values.TupleSeq
    x, y = np.arange(3, dtype=np.float32), np.ones(3, np.float32)
    dpairs, dt = cupar.grad(pairs_and_tuple, (0, 1))(TupleSeq((x, y)), (np.float32(2),
                                                                          np.float32(3)),
                                                     target_place=place)
    assert_close(dpairs, TupleSeq((2 * y, 2 * x)))
    assert_close(dt, (np.float32(np.sum(x * y)), np.float32(6)))


def test_derived_source_is_the_same_in_every_process():
    """The generated source keys the disk cache: names made while differentiating must not
    depend on string hashing, or every new process compiles the derivative again."""
    import os
    import subprocess
    import sys
    code = ("import hashlib, numpy as np, cupar, test_grad as t; "
            "s = cupar.explain(cupar.grad(t.softmax_cross_entropy), np.ones((3, 4)), "
            "np.array([0, 1, 2]), quiet=True); "
            "print(hashlib.sha256((s['differentiate'] + s['numba']).encode()).hexdigest())")
    here_dir = os.path.dirname(__file__)
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=here_dir, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(digests) == 1


# -- derivatives called inside @parallel functions, and has_aux -------------------------------

@parallel
def quadratic_loss(w, b, x):
    return sum(map(lambda v: (w * v + b) * (w * v + b), x))


quadratic_value_and_grad = cupar.value_and_grad(quadratic_loss, argnums=(0, 1))
quadratic_grad_w = cupar.grad(quadratic_loss, 0)


@parallel
def descent_step(w, b, x, lr):
    loss, (gw, gb) = quadratic_value_and_grad(w, b, x)
    return loss, w - lr * gw, b - lr * gb, quadratic_grad_w(w, b, x)


@pytest.mark.parametrize("place", PLACES)
def test_a_derivative_called_inside_a_parallel_function_is_its_derivative(place):
    """Calling cupar.grad(f) in a @parallel function computes the gradient (once, this
    computed f itself: a silent wrong answer), with the structure its Python call returns."""
    x = np.array([1.0, 2.0, 3.0])
    loss, w, b, gw = descent_step(0.5, 0.1, x, 0.01, target_place=place)
    value, (expect_gw, expect_gb) = quadratic_value_and_grad(0.5, 0.1, x)
    assert loss == pytest.approx(value)
    assert gw == pytest.approx(expect_gw) == pytest.approx(2 * np.sum((0.5 * x + 0.1) * x))
    assert w == pytest.approx(0.5 - 0.01 * expect_gw)
    assert b == pytest.approx(0.1 - 0.01 * expect_gb)


def test_the_step_is_one_program_with_the_derivative_inlined():
    stages = cupar.explain(descent_step, 0.5, 0.1, np.ones(4), 0.01, quiet=True)
    assert "def grad_quadratic_loss_1(" in stages["infer_types"]  # spliced in for the call
    assert "grad_quadratic_loss" not in stages["inline_calls"]  # then inlined
    assert stages["kernels"].count("kernel function ") == 1


@parallel
def loss_with_aux(w, x):
    y = map(lambda v: w * v, x)
    return sum(map(lambda v: v * v, y)), (sum(y), y)


@pytest.mark.parametrize("place", PLACES)
def test_has_aux_passes_the_second_result_on_undifferentiated(place):
    x = np.array([1.0, 2.0, 3.0])
    (loss, (total, y)), gw = cupar.value_and_grad(loss_with_aux, 0, has_aux=True)(
        0.5, x, target_place=place)
    assert loss == pytest.approx(3.5) and total == pytest.approx(3.0)
    np.testing.assert_allclose(y, 0.5 * x)
    assert gw == pytest.approx(2 * 0.5 * np.sum(x * x))
    (gw2,), (total2, _) = cupar.grad(loss_with_aux, (0,), has_aux=True)(
        0.5, x, target_place=place)
    assert gw2 == pytest.approx(gw) and total2 == pytest.approx(total)


def test_has_aux_needs_a_pair():
    @parallel
    def not_a_pair(w, x):
        return sum(map(lambda v: w * v, x))
    with pytest.raises(cupar.errors.CuparTypeError, match="return a pair `loss, aux`"):
        cupar.grad(not_a_pair, 0, has_aux=True)(0.5, np.ones(3))


def test_a_pullback_is_not_callable_inside_parallel_functions():
    _, pullback = cupar.vjp(quadratic_loss, 0.5, 0.1, np.ones(3))
    back = cupar.dsl.derivatives.Derived(quadratic_loss, cupar.compiler.autodiff.Request(
        (0,), "vjp"))

    @parallel
    def uses_pullback(w, b, x):
        return back(w, b, x, 1.0)
    with pytest.raises(cupar.errors.CuparTypeError, match="is a pullback"):
        uses_pullback(0.5, 0.1, np.ones(3))


matrix_loop_grad = cupar.grad(matrix_loop, 1)


@parallel
def step_with_matrix_loop_gradient(x, w, k):
    """A gradient called inside a program, as a training step calls its loss's."""
    g = matrix_loop_grad(x, w, k)
    return map(lambda r, s: map(lambda a, b: a - 0.1 * b, r, s), w, g)


def test_a_spliced_derivative_keeps_its_loop_helpers_as_calls():
    """The derivative's own pipeline keeps the adjoint of the loop's step apart from the
    backward loop; spliced into a caller, it stays so (inlined there, a GRU classifier's
    training step took 35% longer), and the caller's values do not change."""
    x, w = normal(3, 4), normal(4, 4) * 0.5
    fn = step_with_matrix_loop_gradient
    stages = fn.stages_for(fn.argument_types((x, w, 3)))
    inlined = stages["inline_calls"]
    assert inlined.kept and set(inlined.kept) <= set(inlined.functions)
    expected = w - 0.1 * np.asarray(cupar.places.to_host(
        matrix_loop_grad(x, w, 3, target_place=cupar.places.here)))
    for place in (cupar.places.here, COMPILED):
        assert_close(np.asarray(cupar.places.to_host(fn(x, w, 3, target_place=place))),
                     expected, terms=64)


def assert_gradients_close(got, expected) -> None:
    """Gradients of a loop of products: an entry is a sum of terms of both signs, so its
    rounding error scales with the largest entry, not with its own size."""
    for g, e in zip(got, expected):
        e = np.asarray(e)
        assert_close(np.asarray(cupar.places.to_host(g)), e, terms=64,
                     scale=float(np.abs(e).max()))


def test_a_recorded_loop_runs_once_forward_in_its_derivative():
    """The forward sweep records the loop's states and takes the value from the last one
    (the loop called there returns at once), rather than running the loop once for the
    value and again for the record; the value and gradients do not change."""
    x, w = normal(3, 4), normal(4, 4) * 0.5
    vg = cupar.value_and_grad(matrix_loop, (0, 1))
    derived = cupar.explain(vg, x, w, 3, quiet=True)["differentiate"]
    (entry,) = [f for f in derived.split("\ndef ") if "iterate(" in f]
    assert entry.count("iterate(") == 1
    (value_call,) = re.findall(r"= lifted_run\((.*)\)", entry)
    assert not value_call.startswith("0, ")  # not the first state: the record's last
    value, grads = vg(x, w, 3, target_place=cupar.places.here)
    assert_close(value, matrix_loop(x, w, 3, target_place=cupar.places.here), terms=64)
    for place in (cupar.places.here, COMPILED):
        got = vg(x, w, 3, target_place=place)
        assert_close(got[0], value, terms=64)
        assert_gradients_close(got[1], grads)


def test_a_recorded_loops_step_reads_the_next_state_from_the_record():
    """The derivative of a recorded loop's step takes the next state (state i + 1, in the
    record) instead of recomputing it: `carried_product_loop`'s step derivative gets the new
    h as a parameter (read by w's cotangent, h_new^T ct) and takes one tanh per element (in
    the derivative of h_new = tanh(p)), not two."""
    x, w = normal(3, 4), normal(4, 4) * 0.5
    vg = cupar.value_and_grad(carried_product_loop, (0, 1))
    derived = cupar.explain(vg, x, w, 3, quiet=True)["differentiate"]
    (step,) = [f for f in derived.split("\ndef ") if re.match(r"lifted_run\w*_step", f)]
    head = step.splitlines()[0]
    assert "next_1" in head, head
    assert step.count("tanh(") == 1, step
    value, grads = vg(x, w, 3, target_place=cupar.places.here)
    for place in (cupar.places.here, COMPILED):
        got = vg(x, w, 3, target_place=place)
        assert_gradients_close(got[1], grads)


def test_a_loop_carrying_its_product_into_the_next_step():
    """The recurrent layers' shape: the product for the next step is part of the state,
    recorded by the derivative and read back by its step (whose own product for the next
    state nothing reads). Its gradients agree with finite differences. (At the compiled
    place, test_nn_recurrent.py checks the layers built this way.)"""
    x, w = normal(3, 4), normal(4, 4) * 0.5
    check_gradient(carried_product_loop, (x, w, 3), argnums=(0, 1),
                   place=cupar.places.here)
