"""Random differentiable programs (grad_programs.py): cupar.grad against finite differences
at places.here, and the compiled place against places.here on a few of them.

`make test` runs a few hundred programs; CUPAR_EXAMPLES_SCALE=20 (say) runs thousands:
    CUPAR_EXAMPLES_SCALE=20 .venv/bin/python -m pytest -q tests/test_grad_fuzz.py
"""

import numpy as np
from hypothesis import HealthCheck, Phase, assume, example, given, note, settings
from hypothesis import strategies as st

import cupar
from grad_programs import ARGNUMS, load, programs
from gradcheck import along, directions, finite_difference, smooth_here, tolerance, value_at
from strategies import COMPILED, assert_close, examples

SETTINGS = dict(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# Without the explain phase: it traces every line while Numba compiles, for many minutes.
COMPILED_SETTINGS = dict(SETTINGS, phases=[Phase.explicit, Phase.reuse, Phase.generate,
                                           Phase.shrink])


@st.composite
def inputs(draw):
    n = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1.5, 1.5, n), rng.uniform(-1.5, 1.5, n), np.float64(rng.uniform(-1, 1)),
            rng.uniform(-1.5, 1.5, (n, 3)), rng.integers(0, n, n)), rng


# A steep program (|f'''| about a hundred times |f|) whose plain central difference missed
# the tolerance while the gradient was right: the reason gradcheck extrapolates.
STEEP = ("import cupar\nfrom cupar import *\n\n\n@parallel\ndef loop(v, k):\n"
         "    return v if k == 0 else loop(v * 0.75 + sin(v), k - 1)\n\n\n@parallel\n"
         "def prog(x, y, w, m, idx):\n    s1 = map(lambda a: loop((1.0 + (1.0 + a * a) ** 1.5 "
         "* (1.0 + a * a) ** 1.5) ** 1.5, 2), y)\n    return sum(s1)\n")
STEEP_INPUTS = ((np.array([0.03546487]), np.array([1.35139109]), np.float64(-0.71168077),
                 np.array([[1.34594834, -0.56450564, -0.23002065]]), np.array([0])),
                np.random.default_rng(5))


@given(source=programs(), drawn=inputs())
@example(source=STEEP, drawn=STEEP_INPUTS)
@settings(examples(300), **SETTINGS)
def test_random_programs_match_finite_differences(source, drawn):
    args, rng = drawn
    note(source)
    prog = load(source)
    value = value_at(prog, args)
    assume(np.isfinite(value) and abs(value) < 1e6)
    dirs = directions(args, ARGNUMS, rng)
    assume(smooth_here(prog, args, ARGNUMS, dirs))
    grads = cupar.grad(prog, ARGNUMS)(*args, target_place=cupar.places.here)
    fd = finite_difference(prog, args, ARGNUMS, dirs)
    ad = along(grads, dirs)
    assert abs(fd - ad) <= tolerance(fd, value), f"finite differences {fd!r}, grad {ad!r}"


@given(source=programs(), drawn=inputs())
@settings(examples(3), **COMPILED_SETTINGS)
def test_random_programs_compiled_agree_with_the_interpreter(source, drawn):
    args, _ = drawn
    note(source)
    prog = load(source)
    assume(np.isfinite(value_at(prog, args)))
    vg = cupar.value_and_grad(prog, ARGNUMS)
    assert_close(vg(*args, target_place=COMPILED), vg(*args, target_place=cupar.places.here),
                 terms=64, scale=10.0)
