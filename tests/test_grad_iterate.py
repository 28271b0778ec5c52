"""Gradients through `iterate`: every state of a recurrence as an output (autodiff_iterate.py),
against finite differences at `here` and the compiled place, and against each other."""

from __future__ import annotations

import numpy as np
import pytest

import cupar
from cupar import *  # noqa: F403
from gradcheck import check_gradient
from strategies import COMPILED, assert_close

RNG = np.random.default_rng(7)
here = cupar.places.here
PLACES = [here, COMPILED]


def normal(*shape):
    return RNG.standard_normal(shape)


@parallel
def affine_states(x, w, n):
    """Each state an elementwise affine map of the one before; the loss reads them all."""
    states = iterate(lambda h: map(lambda a, b: tanh(a * b + 0.5), h, w), x, n)
    return sum(map(lambda r: sum(map(lambda v: v * v, r)), states))


@parallel
def cell(xt, h, w_x, w_h):
    return map(lambda a, c: map(tanh, map(op_add, a, c)), matmul(xt, w_x), matmul(h, w_h))


@parallel
def rnn_states(x, h0, w_x, w_h):
    """An RNN over x (steps, batch, in) from h0 (batch, H), its state (t, h): every hidden
    state read by the loss, x's rows read by the steps (x too gets a gradient)."""
    steps = len(x)

    def step(s):
        t, h = s
        return (t + 1, cell(x[min(t, steps - 1)], h, w_x, w_h))
    ts, hs = unzip(iterate(step, (0, h0), steps + 1))
    return sum(map(lambda m: sum(map(lambda r: sum(map(lambda v: v * v * 0.5, r)), m)), hs))


@parallel
def last_state_only(x, w, n):
    """The rows before the last get no cotangent of their own."""
    states = iterate(lambda h: map(lambda a: sin(a) * w, h), x, n)
    return sum(states[len(states) - 1]) if len(states) > 0 else 0.0


@parallel
def local_functions(x, w, n):
    """The step calls local functions that capture a weight."""
    def act(v):
        return tanh(v * w)
    squash = lambda r: map(act, r)  # noqa: E731
    states = iterate(lambda h: squash(map(lambda a: a + 0.1, h)), x, n)
    return sum(map(sum, states))


@parallel
def halving(x, n):
    """States whose length changes: iterate gives no rows, and so no gradient."""
    states = iterate(lambda h: map(lambda i: h[2 * i], range(len(h) // 2)), x, n)
    return sum(map(sum, states)) + sum(x)


CASES = {
    "affine": (affine_states, lambda: (normal(5), normal(5), 4), (0, 1)),
    "affine_one_state": (affine_states, lambda: (normal(5), normal(5), 1), (0, 1)),
    "affine_no_state": (affine_states, lambda: (normal(5), normal(5), 0), (0, 1)),
    "rnn": (rnn_states, lambda: (normal(4, 3, 2), normal(3, 5), normal(2, 5) * 0.5,
                                 normal(5, 5) * 0.5), (0, 1, 2, 3)),
    "local_functions": (local_functions, lambda: (normal(5), np.float64(0.7), 4), (0, 1)),
    "last_state": (last_state_only, lambda: (normal(6), np.float64(0.8), 5), (0, 1)),
}
DERIVED: dict = {}


def derived(case):
    if case not in DERIVED:
        fn, _, argnums = CASES[case]
        DERIVED[case] = cupar.value_and_grad(fn, argnums)
    return DERIVED[case]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_through_iterate_matches_finite_differences(case, place):
    fn, make, argnums = CASES[case]
    check_gradient(fn, make(), argnums, place=place, rng=np.random.default_rng(2),
                   derived=derived(case))


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_gradient_through_iterate_agrees_with_the_interpreter(case):
    fn, make, argnums = CASES[case]
    args = make()
    assert_close(derived(case)(*args, target_place=COMPILED),
                 derived(case)(*args, target_place=here), terms=64, scale=10.0)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_states_that_change_shape_have_no_gradient_through_iterate(place):
    x = normal(8)
    value, grad = cupar.value_and_grad(halving)(x, 3, target_place=place)
    assert_close(value, np.sum(x))
    assert_close(grad, np.ones(8))  # from sum(x) only: iterate gave no rows
