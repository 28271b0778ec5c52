"""The CUDA code generator's floating-point choice, checked on its source (no GPU, no
numba-cuda needed): every float product scalar_code writes is called through `product32`
or `product64`, which the module binds to exact products at gpu0 and to fusable ones, with
numba-cuda's fastmath, at gpu0_fastmath. (scripts/check_cuda_compile.py and the PTX say
the rest: no fma.rn at gpu0.)"""

import numpy as np
import pytest

import cupar
from cupar import parallel
from cupar.compiler.lower import lower_to_kernels
from cupar.compiler.scalar_code import scalar_expr
from cupar.compiler.types import WEAK_FLOAT, Scalar
from cupar.runtime.cuda.codegen import device_expr, generate_cuda_source

F32, F64, I64 = Scalar("float32"), Scalar("float64"), Scalar("int64")


@pytest.mark.parametrize("operands, types, result, expected", [
    (["a", "b"], [F32, F32], F32, "product32(a, b)"),
    (["a", "b"], [F64, F64], F64, "product64(a, b)"),
    (["a", "x[i_0]"], [F32, F32], F32, "product32(a, x[i_0])"),
    (["a", "b"], [I64, F64], F64, "product64(np.float64(a), b)"),
    (["a", "2.5"], [F32, WEAK_FLOAT], F32, "product32(a, np.float32(2.5))"),
    (["np.float32(float('inf'))", "-1.5"], [F32, WEAK_FLOAT], F32,
     "product32(np.float32(float('inf')), np.float32(-1.5))"),
    (["x[(i_0 + 1), j]", "y[k]"], [F32, F32], F32, "product32(x[i_0 + 1, j], y[k])"),
])
def test_every_float_product_scalar_code_writes_is_called_as_a_product(operands, types, result,
                                                                        expected):
    assert device_expr(scalar_expr("op_mul", operands, types, result), ()) == expected


def test_integer_products_and_other_float_operations_stay_as_they_are():
    for prim in ("op_add", "op_sub", "op_div"):
        assert "product" not in device_expr(scalar_expr(prim, ["a", "b"], [F32, F32], F32), ())
    assert device_expr(scalar_expr("op_mul", ["a", "b"], [I64, I64], I64), ()) == \
        "np.int64((a * b))"


@parallel
def axpy(a, x, y):
    return map(lambda xi, yi: a * xi + yi, x, y)


def cuda_source(fastmath: bool) -> str:
    x = np.zeros(4, np.float32)
    final = list(axpy.stages_for(axpy.argument_types((np.float32(2), x, x))).values())[-1]
    return generate_cuda_source(lower_to_kernels(final), 256, 8, fastmath=fastmath)


def test_gpu0_binds_exact_products_and_gpu0_fastmath_fusable_ones():
    exact, fast = cuda_source(False), cuda_source(True)
    assert "product32(a, x[i_0])" in exact and "product32(a, x[i_0])" in fast
    assert "product32, product64 = rt.exact_product32, rt.exact_product64" in exact
    assert "product32, product64 = rt.fast_product32, rt.fast_product64" in fast
    assert "fastmath" not in exact.replace("fastmath=", "") and "@cuda.jit\n" in exact
    assert "@cuda.jit(fastmath=True)\n" in fast and "@cuda.jit\n" not in fast


def test_gpu0_fastmath_is_a_gpu_place_of_its_own():
    fast = cupar.places.gpu0_fastmath
    assert fast is not cupar.places.gpu0 and isinstance(fast, type(cupar.places.gpu0))
    assert repr(fast) == "cupar.places.gpu0_fastmath" and fast.fastmath
    assert not cupar.places.gpu0.fastmath
