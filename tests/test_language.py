"""Language features end to end at places.here: polymorphism, recursion, sources, dumps."""

import linecache

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from cupar.errors import CuparTypeError, SourceUnavailableError

here = cupar.places.here


@parallel
def count_to(n, acc):
    return acc if n == 0 else count_to(n - 1, acc + 1)


def test_tail_recursion_runs_as_a_loop():
    assert count_to(100_000, 0, target_place=here) == 100_000


@parallel
def running_sum(x):
    def go(k, acc):
        return acc if k == len(x) else go(k + 1, acc + x[k])
    return go(0, 0)


def test_recursion_widens_a_weak_accumulator():
    x = np.array([0.5, 1.25, 2.0], dtype=np.float32)
    result = running_sum(x, target_place=here)
    assert result == np.float32(3.75) and isinstance(result, np.float32)


@parallel
def twice_everywhere(x, i):
    def twice(v):
        return v + v
    return map(twice, x), map(twice, i), twice(3)


def test_let_polymorphism():
    x, i = np.ones(3, np.float32), np.arange(3, dtype=np.int32)
    fx, fi, three = twice_everywhere(x, i, target_place=here)
    assert fx.dtype == np.float32 and fi.dtype == np.int32 and three == 6
    assert type(three) is int  # weak: a Python int in, a Python int out


@parallel
def blend(x, y, t):
    if t > 0.5:
        out = map(lambda a, b: a - b, x, y)
    elif t > 0.25:
        out = y
    else:
        out = x
    return out


def test_if_elif_else_join():
    x, y = np.arange(4.0), np.ones(4)
    np.testing.assert_array_equal(blend(x, y, 0.9, target_place=here), x - y)
    np.testing.assert_array_equal(blend(x, y, 0.3, target_place=here), y)
    np.testing.assert_array_equal(blend(x, y, 0.0, target_place=here), x)


@parallel
def scale(a, x):
    return map(lambda xi: a * xi, x)


@parallel
def scale_twice(a, x):
    return scale(a, scale(a, x))


def test_calls_between_parallel_functions():
    x = np.arange(3, dtype=np.float32)
    out = scale_twice(2.0, x, target_place=here)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, 4 * x)


def test_cache_reuses_the_program_for_new_lengths():
    scale(2.0, np.ones(3, np.float32), target_place=here)
    before = dict(scale._programs)
    scale(2.0, np.ones(7, np.float32), target_place=here)
    assert scale._programs == before
    scale(2.0, np.ones(7, np.float64), target_place=here)
    assert len(scale._programs) == len(before) + 1


def test_function_from_a_notebook_cell():
    """IPython keeps cell sources in linecache under a synthetic file name; so do we here."""
    filename = "<ipython-input-7-cupar>"
    source = "@parallel\ndef inc(x):\n    return map(lambda v: v + 1, x)\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"parallel": parallel, "map": map}
    exec(compile(source, filename, "exec"), namespace)
    out = namespace["inc"](np.arange(3), target_place=here)
    np.testing.assert_array_equal(out, [1, 2, 3])


def test_no_source_is_a_clear_error():
    namespace = {"parallel": parallel}
    with pytest.raises(SourceUnavailableError, match="cannot read the source of `f`"):
        exec("@parallel\ndef f(x):\n    return x\n", namespace)


def test_dump_prints_the_named_stage(monkeypatch, capsys):
    monkeypatch.setenv("CUPAR_DUMP", "infer_types")

    @parallel
    def negate(x):
        return map(lambda v: -v, x)
    negate(np.ones(2, np.float32), target_place=here)
    out = capsys.readouterr().out
    assert "after infer_types" in out and "f32[N]" in out and "after parse" not in out


def test_explain_returns_every_stage(capsys):
    stages = cupar.explain(scale, 2.0, np.ones(3, np.float32))
    from cupar.compiler.pipeline import PIPELINE
    assert list(stages) == ["source", "parse", *(p.name for p in PIPELINE), "kernels", "numba"]
    assert "def scale(a: float, x: f32[N]) -> f32[N]" in stages["infer_types"]
    assert "=== infer_types ===" in capsys.readouterr().out


def test_explain_rejects_plain_functions():
    with pytest.raises(CuparTypeError, match="explain takes a @parallel function"):
        cupar.explain(len, [1])


def test_sequence_of_tuples_result_keeps_columns():
    @parallel
    def pairs(x):
        return map(lambda v: (v, v * 2), x)
    x = np.arange(3, dtype=np.int32)
    r = pairs(x, target_place=here)
    assert len(r) == 3 and r[1] == (1, 2) and list(r)[2] == (2, 4)
    a, b = unzip(r)
    assert a.dtype == np.int32 and np.array_equal(b, 2 * x)


def test_redefining_a_callee_recompiles_the_caller():
    namespace = {}
    source = ("from cupar import *\n"
              "@parallel\ndef helper(v):\n    return v + 1\n"
              "@parallel\ndef caller(x):\n    return map(helper, x)\n")
    filename = "<cell-redefine>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    x = np.arange(3)
    for place in (here, cupar.places.cpu, cupar.places.cpu):  # the last call is a warm one
        assert list(namespace["caller"](x, target_place=place)) == [1, 2, 3]
    again = source.replace("v + 1", "v + 10").split("@parallel\ndef caller")[0]
    linecache.cache[filename] = (len(again), None, again.splitlines(True), filename)
    exec(compile(again, filename, "exec"), namespace)  # a new `helper`, same `caller`
    for place in (here, cupar.places.cpu):
        assert list(namespace["caller"](x, target_place=place)) == [10, 11, 12]


@parallel
def shadowed_and_eta(x, m):
    s = scan(op_add, x)
    a = map(lambda r, c: sum(r) * c, m, x)
    b = map(lambda r, c: sum(r) * c, m, x)  # the front end renames these r_1, c_1
    return sum(scan(op_add, s)) + sum(a) + sum(b)


def test_operator_values_never_take_a_renamed_local_name():
    """`op_add` passed as a value becomes a lambda with fresh names; they once clashed with
    the front end's renaming of a repeated lambda's parameters (found by the grad fuzzer)."""
    x, m = np.ones(2), np.ones((2, 3))
    assert shadowed_and_eta(x, m, target_place=cupar.places.here) == 4.0 + 6 + 6
