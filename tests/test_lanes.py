"""Elements that each run a divergent loop (tail recursion inside a map): the cpu place runs
several elements in step (runtime/cpu/lanes.py). Every element must still give exactly the
interpreter's value, whatever the length (whole groups of lanes and a remainder), however
unequal the elements' trip counts, and wherever a lane fails."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cupar
from cupar import *  # noqa: F403
from strategies import COMPILED, ON_GPU, arrays, assert_close, examples

compiled, here = COMPILED, cupar.places.here


@parallel
def collatz_steps(x, limit):
    """Steps of n -> n/2 or 3n+1 until 1 (at most `limit`): trip counts vary wildly."""
    def steps(n, k):
        if n <= 1 or k == limit:
            return k
        if n % 2 == 0:
            return steps(n // 2, k + 1)
        return steps(3 * n + 1, k + 1)
    return map(lambda v: steps(v, 0), x)


@parallel
def newton_sqrt(x):
    """Newton's iteration for sqrt(v), to a fixed point or 40 steps: floats, two results."""
    def refine(v, r, k):
        better = 0.5 * (r + v / r)
        if better == r or k == 40:
            return r, k
        return refine(v, better, k + 1)
    return map(lambda v: refine(v, v + 1.0, 0), x)


@parallel
def chase(links, starts):
    """Follow `links` from each start until -1: a gather inside the loop, so a bad link is
    an index error raised from one lane."""
    def walk(i, k):
        if i == -1 or k == 64:
            return k
        return walk(links[i], k + 1)
    return map(lambda s: walk(s, 0), starts)


def same(fn, *args):
    assert_close(fn(*args, target_place=compiled), fn(*args, target_place=here))


@given(data=st.data())
@examples(30)
def test_collatz_steps_agree(data):
    x = data.draw(arrays(np.dtype("int64"), lo=-3, hi=10**6))
    same(collatz_steps, x, data.draw(st.integers(0, 200)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
@examples(20)
def test_newton_sqrt_agrees_bit_for_bit(dtype, data):
    x = data.draw(arrays(np.dtype(dtype), lo=0, hi=10**6))
    out, here_out = (newton_sqrt(x, target_place=p) for p in (compiled, here))
    for a, b in zip(out, here_out):  # each lane does the interpreter's operations, in order
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@given(data=st.data())
@examples(30)
def test_chasing_links_agrees_or_fails_alike(data):
    n = data.draw(st.integers(1, 40))
    links = np.array(data.draw(st.lists(st.integers(-1, n), min_size=n, max_size=n)), np.int64)
    starts = np.array(data.draw(st.lists(st.integers(-1, n - 1), max_size=30)), np.int64)
    outcomes = []
    for place in (compiled, here):
        try:
            outcomes.append(np.asarray(chase(links, starts, target_place=place)))
        except cupar.errors.CuparIndexError as exc:
            outcomes.append(type(exc))
    if any(o is cupar.errors.CuparIndexError for o in outcomes):
        assert outcomes[0] is outcomes[1], outcomes
    else:
        np.testing.assert_array_equal(*outcomes)


@parallel
def chase_to_the_end(links, starts):
    def walk(i, k):
        return k if i == -1 else walk(links[i], k + 1)
    return map(lambda s: walk(s, 0), starts)


@pytest.mark.parametrize("n", [1, 5, 20_000])
def test_a_failing_loop_stops_with_the_error(n):
    """A lane whose loop fails must stop: its next link, read after the failure, would lead
    it round a cycle forever."""
    with pytest.raises(cupar.errors.CuparIndexError, match="out of range"):
        chase_to_the_end(np.array([5], np.int64), np.zeros(n, np.int64), target_place=compiled)


@pytest.mark.skipif(ON_GPU, reason="the CUDA simulator runs each thread in Python: too slow")
def test_a_large_input_runs_its_lanes_in_parallel():
    x = np.arange(100_003, dtype=np.int64)  # whole groups of lanes and a remainder
    expected = collatz_steps(x[:2000], 500, target_place=here)
    np.testing.assert_array_equal(np.asarray(collatz_steps(x, 500, target_place=compiled))[:2000],
                                  np.asarray(expected))


def test_the_cpu_code_advances_lanes_in_step():
    source = cupar.explain(collatz_steps, np.arange(8), 10, quiet=True)["numba"]
    whiles = [line.strip() for line in source.splitlines() if line.strip().startswith("while")]
    # one loop advancing every lane of a group, one for the elements after the last group
    assert whiles == ["while i_0_active0 or i_0_active1 or i_0_active2 or i_0_active3:",
                      "while True:"], whiles
