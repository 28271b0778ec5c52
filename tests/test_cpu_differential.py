"""places.cpu against places.here on the golden programs and every example's main function.

Integers and everything without a reduction must agree exactly; floating-point reductions may
be reassociated by the parallel code, so they agree to a tolerance derived from the dtype.
"""

import numpy as np
import pytest

import cupar
from cupar.dsl.values import TupleSeq
from golden_programs import PROGRAMS
from test_examples import MAIN_FUNCTIONS, load

cpu, here = cupar.places.cpu, cupar.places.here


def assert_agree(actual, expected, rtol_eps: float = 64):
    if isinstance(expected, TupleSeq):
        assert isinstance(actual, TupleSeq)
        for a, e in zip(actual.columns, expected.columns, strict=True):
            assert_agree(a, e, rtol_eps)
        return
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_agree(a, e, rtol_eps)
        return
    assert type(actual) is type(expected), (type(actual), type(expected))
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.dtype == e.dtype and a.shape == e.shape
    if a.dtype.kind == "f":
        tol = np.finfo(a.dtype).eps * rtol_eps
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol * max(1.0, np.abs(e).max(initial=0)))
    else:
        np.testing.assert_array_equal(a, e)


def both(fn, *args):
    return fn(*args, target_place=cpu), fn(*args, target_place=here)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_golden_programs(name):
    fn, args = PROGRAMS[name]
    assert_agree(*both(fn, *args))


@pytest.mark.parametrize("name", sorted(MAIN_FUNCTIONS))
def test_examples(name):
    fn_name, make_args = MAIN_FUNCTIONS[name]
    assert_agree(*both(getattr(load(name), fn_name), *make_args()))


def compiled(fn, *args) -> bool:
    stages = fn.stages_for(fn.argument_types(args))
    return not isinstance(cpu.compiled_or_reason(stages), str)


def test_the_core_examples_really_compile():
    for name in ("axpy", "black_scholes", "extrema", "mandelbrot", "spmv", "fibonacci"):
        fn_name, make_args = MAIN_FUNCTIONS[name]
        fn = getattr(load(name), fn_name)
        args = make_args()
        assert compiled(fn, *args), cpu.compiled_or_reason(fn.stages_for(fn.argument_types(args)))
