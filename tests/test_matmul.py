"""matmul and transpose at the compiled place (cpu, or gpu0 under CUPAR_COMPILED_PLACE)
against places.here, their fusion structure at cpu, and their run-time errors.

Float results are compared within a tolerance derived from the dtype and the inner length k
(each element sums k products in an order the place chooses), scaled by |a| @ |b|; integer
results must be exact (they wrap alike in any order).
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cupar
from cupar import *  # noqa: F403
from cupar.compiler.kernel_ir import MatMul, kernel_count
from cupar.errors import CuparValueError
from strategies import COMPILED, NUMERIC_DTYPES, ON_GPU, assert_close, elements, examples

here = cupar.places.here
SIZE = 5 if ON_GPU else 9  # (the simulator runs every GPU thread in Python)


@parallel
def product(a, b):
    return matmul(a, b)


@parallel
def linear_relu(x, w, b):
    return map(lambda row: map(lambda v, bi: max(v + bi, 0.0), row, b), matmul(x, w))


@parallel
def scaled_rows(x, w, s):
    y = map(lambda row: map(lambda v: v * 2, row), matmul(x, w))
    return map(lambda row, k: map(lambda v: v + k, row), y, s)


@parallel
def adjoints(a, b, dc):
    return matmul(dc, transpose(b)), matmul(transpose(a), dc)


@parallel
def row_sums(a, b):
    return map(lambda r: sum(r), matmul(a, b))


@parallel
def flipped(m):
    return transpose(m), map(lambda r: map(lambda v: v + 1, r), transpose(m))


@parallel
def chained(a, b, c):
    return matmul(matmul(a, b), c)


@parallel
def transposed_uses(m, v):
    doubled = transpose(map(lambda r: map(lambda x: x * 2, r), m))
    return doubled, matmul(transpose(m), v), matmul(v, transpose(transpose(m)))


def matrix(dtype, rows: int, cols: int):
    return hnp.arrays(dtype, (rows, cols), elements=elements(dtype, lo=-8, hi=8))


def tolerance(a, b):
    """(terms, scale) for assert_close: k products summed, scaled by |a| @ |b|."""
    k = a.shape[-1]
    bound = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    return max(k, 1), float(bound.max(initial=0.0))


def agree(fn, *args, terms=1, scale=None):
    stages = fn.stages_for(fn.argument_types(args))
    compiled = COMPILED.compiled_or_reason(stages)
    assert not isinstance(compiled, str), compiled
    assert_close(fn(*args, target_place=COMPILED), fn(*args, target_place=here),
                 terms=terms, scale=scale, factor=8)


shapes = st.tuples(*(st.one_of(st.just(0), st.just(1), st.integers(0, SIZE)) for _ in "nkm"))
dtypes = st.sampled_from(NUMERIC_DTYPES)


@given(st.data(), shapes, dtypes)
@examples(25)
def test_matrix_products(data, shape, dtype):
    n, k, m = shape
    a, b = data.draw(matrix(dtype, n, k)), data.draw(matrix(dtype, k, m))
    terms, scale = tolerance(a, b)
    agree(product, a, b, terms=terms, scale=scale)
    agree(row_sums, a, b, terms=terms * max(m, 1), scale=scale * max(m, 1))


@given(st.data(), shapes, dtypes)
@examples(20)
def test_matrix_vector_products(data, shape, dtype):
    n, k, _ = shape
    a = data.draw(matrix(dtype, n, k))
    v, u = data.draw(matrix(dtype, 1, k))[0], data.draw(matrix(dtype, 1, n))[0]
    terms, scale = tolerance(a, np.ones((k, 1)) * 8)
    agree(product, a, v, terms=terms, scale=scale)
    agree(product, u, a, terms=max(n, 1), scale=scale * max(n, 1))


@given(st.data(), shapes, st.sampled_from([np.dtype("float32"), np.dtype("float64")]))
@examples(20)
def test_fused_epilogues(data, shape, dtype):
    n, k, m = shape
    x, w = data.draw(matrix(dtype, n, k)), data.draw(matrix(dtype, k, m))
    bias, s = data.draw(matrix(dtype, 1, m))[0], data.draw(matrix(dtype, 1, n))[0]
    terms, scale = tolerance(x, w)
    agree(linear_relu, x, w, bias, terms=terms, scale=scale + 8)
    agree(scaled_rows, x, w, s, terms=terms, scale=2 * scale + 8)


@given(st.data(), shapes, dtypes)
@examples(20)
def test_adjoints_read_transposes(data, shape, dtype):
    n, k, m = shape
    a, b = data.draw(matrix(dtype, n, k)), data.draw(matrix(dtype, k, m))
    dc = data.draw(matrix(dtype, n, m))
    terms, scale = tolerance(np.ones((1, max(n, m))), np.ones((max(n, m), 1)))
    agree(adjoints, a, b, dc, terms=terms, scale=64 * scale)
    agree(flipped, a)
    v = data.draw(matrix(dtype, 1, n))[0]
    agree(transposed_uses, a, v, terms=max(n, 1), scale=64.0 * max(n, 1))
    agree(chained, a, b, dc.T.copy(), terms=k * m + 1, scale=512.0 * max(k * m, 1))


def test_integer_products_are_exact():
    a = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    b = np.arange(20, dtype=np.int32).reshape(4, 5) * 3 - 7
    result = product(a, b, target_place=COMPILED)
    assert_close(result, (a.astype(np.int64) @ b).astype(np.int32))


@pytest.mark.parametrize("args", [(np.ones((3, 4)), np.ones((5, 2))),
                                  (np.ones((3, 4)), np.ones(5)), (np.ones(3), np.ones((4, 2)))])
def test_mismatched_inner_lengths_are_located(args):
    with pytest.raises(CuparValueError, match="inner lengths") as info:
        product(*args, target_place=COMPILED)
    assert info.value.loc is not None and info.value.loc.line > 0


# -- structure (cpu) ----------------------------------------------------------------------
def kernels(fn, *args):
    compiled = cupar.places.cpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
    assert not isinstance(compiled, str), compiled
    return compiled.kernels.entry.body


F = np.ones((4, 3), np.float32)


def matmuls(body):
    return [s for s in body if isinstance(s, MatMul)]


def test_the_epilogue_runs_in_the_products_kernel():
    body = kernels(linear_relu, F, F.T.copy(), np.ones(4, np.float32))
    assert kernel_count(body) == 1
    (mm,) = matmuls(body)
    assert mm.body and mm.value != mm.acc  # bias and activation before the store


def test_a_chain_of_row_maps_fuses_into_one_product():
    assert kernel_count(kernels(scaled_rows, F, F.T.copy(), np.ones(4, np.float32))) == 1


def test_transposed_operands_are_read_in_place():
    body = kernels(adjoints, F, F.T.copy(), np.ones((4, 4), np.float32))
    assert kernel_count(body) == 2
    assert [(m.a_transposed, m.b_transposed) for m in matmuls(body)] == [(False, True),
                                                                        (True, False)]


def test_other_consumers_read_the_stored_product():
    body = kernels(row_sums, F, F.T.copy())
    assert kernel_count(body) == 2 and len(matmuls(body)) == 1


def test_transpose_fuses_into_its_consumer():
    assert kernel_count(kernels(flipped, F)) == 1  # both results in one loop, no copy


CPU_ONLY = ("checks the cpu back end's BLAS and own product loops directly; the gpu0 run "
            "of this file checks CUDA's products")


@pytest.mark.skipif(ON_GPU, reason=CPU_ONLY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("at", [False, True])
@pytest.mark.parametrize("bt", [False, True])
def test_blas_tiles_agree_with_the_own_loops(dtype, at, bt):
    """A tile of a product by BLAS (where NumPy ships one) and by cupar's own loops, at
    offsets in the operands and in the destination, `a` and `b` read transposed or not
    (a transposed `b` BLAS reads as it is; the own loops read its rows, copied)."""
    from cupar.runtime.cpu.blas import AVAILABLE, blas_tile
    from cupar.runtime.cpu.matmul import wide_tile
    rng = np.random.default_rng(3)
    a = rng.standard_normal((37, 29) if at else (29, 37)).astype(dtype)
    b = rng.standard_normal((37, 23)).astype(dtype)
    b_stored = np.ascontiguousarray(b.T) if bt else b
    i0, i1, j0, j1 = 3, 27, 5, 21
    ours = np.full((30, 20), 7.0, dtype)
    theirs = ours.copy()
    wide_tile(a, at, b, i0, i1, j0, j1, ours, 2, 1)
    assert blas_tile(a, at, b_stored, bt, i0, i1, j0, j1, theirs, 2, 1) == AVAILABLE
    if AVAILABLE:
        np.testing.assert_allclose(theirs, ours, rtol=np.finfo(dtype).eps * 64,
                                   atol=np.finfo(dtype).eps * 64)
        expected = (a.T if at else a)[i0:i1] @ b[:, j0:j1]
        np.testing.assert_allclose(theirs[2:26, 1:17], expected, rtol=1e-5, atol=1e-5)
    assert (theirs[:2] == 7).all() and (theirs[:, :1] == 7).all()  # outside: untouched


@pytest.mark.skipif(ON_GPU, reason=CPU_ONLY)
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_a_product_tile_of_a_transposed_b_agrees_whoever_computes_it(dtype):
    """`product_tile` with `bt`: BLAS reads b transposed; the own loops (integers, an empty
    inner length) copy it into rows first. Both give b's transpose's product."""
    from cupar.runtime.cpu.matmul import product_tile
    rng = np.random.default_rng(4)
    for k in (0, 13):
        a = rng.integers(-5, 5, (9, k)).astype(dtype)
        b = rng.integers(-5, 5, (11, k)).astype(dtype)  # B = b.T, 13 x 11
        dest = np.full((9, 11), 7, dtype)
        product_tile(a, False, b, True, 0, 9, 0, 11, dest, 0, 0)
        np.testing.assert_array_equal(dest, a @ b.T)


@pytest.mark.skipif(ON_GPU, reason=CPU_ONLY)
def test_blas_refuses_what_it_cannot_take():
    """Empty products, integers (not reaching it) and rows that are not contiguous fall
    back to the own loops (blas_tile answers False and writes nothing)."""
    from cupar.runtime.cpu.blas import blas_tile
    a, b = np.ones((4, 6), np.float32), np.ones((6, 5), np.float32)
    dest = np.zeros((4, 5), np.float32)
    assert not blas_tile(a, False, b, False, 0, 4, 0, 0, dest, 0, 0)
    assert not blas_tile(a[:, ::2], False, b[:3], False, 0, 4, 0, 5, dest, 0, 0)
    assert not blas_tile(a, False, b[::2].T, True, 0, 4, 0, 5, dest, 0, 0)
    assert (dest == 0).all()


@pytest.mark.skipif(ON_GPU, reason=CPU_ONLY)
def test_products_without_blas_use_the_own_loops(tmp_path):
    """CUPAR_NO_BLAS=1 (or a NumPy without scipy-openblas): the stubs stand in for the
    library and are never called; the products are right, whatever the cache holds."""
    import subprocess
    import sys
    script = tmp_path / "no_blas.py"
    script.write_text(
        "import numpy as np, cupar\n"
        "from cupar.runtime.cpu.blas import AVAILABLE\n"
        "assert not AVAILABLE\n"
        "a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7\n"
        "b = np.arange(8, dtype=np.float32).reshape(4, 2) / 5\n"
        "@cupar.parallel\n"
        "def mm(a, b):\n"
        "    return cupar.matmul(a, b)\n"
        "np.testing.assert_allclose(mm(a, b, target_place=cupar.places.cpu), a @ b, "
        "rtol=1e-6)\n"
        "print('ok')\n")
    env = {**os.environ, "CUPAR_NO_BLAS": "1"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


@pytest.mark.skipif(ON_GPU, reason=CPU_ONLY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_product_of_a_small_call_runs_on_blas_threads_and_agrees(dtype):
    """Operands under 65,536 elements make a small call (the serial variant), yet 255^3
    multiply-adds pass THREADED_PRODUCT: one tile, BLAS on its own threads (numba's count
    bounds theirs); plain, with an epilogue, and on one thread, all as NumPy's."""
    import numba

    from cupar.runtime.cpu.matmul import THREADED_PRODUCT, alone_threads, tile_shape
    n = 255
    assert n ** 3 >= THREADED_PRODUCT and alone_threads(n, n, n) >= 1
    assert tile_shape(n, n, n, 2) == (n, n) and tile_shape(n, n, n, 1)[0] < n
    rng = np.random.default_rng(5)
    a, w = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    bias = rng.standard_normal(n).astype(dtype)
    tol = dict(rtol=np.finfo(dtype).eps * 4 * n, atol=np.finfo(dtype).eps * 4 * n)
    before = numba.get_num_threads()
    try:
        for threads in (before, 1):
            numba.set_num_threads(threads)
            np.testing.assert_allclose(product(a, w), a @ w, **tol)
            np.testing.assert_allclose(linear_relu(a, w, bias),
                                       np.maximum(a @ w + bias, 0), **tol)
    finally:
        numba.set_num_threads(before)
