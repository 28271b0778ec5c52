"""cupar's pytest plugin, run inside pytest (pytester): the `cupar_place` fixture, the
`cupar_places` marker, and examples/test_my_kernels.py as a user would run it."""

import importlib.metadata
from pathlib import Path

from cupar.testing import available_places

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_my_kernels.py"
GPU = "gpu0" in {p.name for p in available_places()}


def plugin_args() -> list:
    """`-p cupar.testing.plugin` unless pytest loads the plugin itself (cupar installed):
    registering it twice is an error."""
    installed = any(ep.value == "cupar.testing.plugin"
                    for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", "cupar.testing.plugin"]


def run(pytester, *args, subprocess=False):
    """pytest on pytester's files; in a subprocess where tests compile (an in-process run
    forgets the modules Numba imported, and Numba's registries refuse them a second time)."""
    go = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    return go(*plugin_args(), "-rs", "-p", "no:cacheprovider", *args)


def test_the_fixture_runs_a_test_at_every_place(pytester):
    pytester.makepyfile("""
        import numpy as np
        from cupar import parallel, map

        @parallel
        def double(x):
            return map(lambda v: v + v, x)

        def test_double(cupar_place):
            x = np.arange(3, dtype=np.float32)
            assert np.array_equal(np.asarray(double(x, target_place=cupar_place)), 2 * x)

        def test_names(cupar_place, request):
            assert request.node.name == f"test_names[{cupar_place.name}]"
    """)
    result = run(pytester, "-v", subprocess=True)
    result.assert_outcomes(passed=6 if GPU else 4, skipped=0 if GPU else 2)
    result.stdout.fnmatch_lines(["*test_double[[]here[]] PASSED*",
                                 "*test_double[[]cpu[]] PASSED*"])
    if not GPU:
        result.stdout.fnmatch_lines(["SKIPPED * cupar.places.gpu0 cannot run here: *"])


def test_the_marker_chooses_places_and_skips_with_the_reason(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.cupar_places("cpu", "gpu0")
        def test_compiled(cupar_place):
            assert cupar_place.name in ("cpu", "gpu0")

        @pytest.mark.cupar_places("gpu0")
        def test_gpu_only():
            import cupar
            assert cupar.places.gpu0.available

        @pytest.mark.cupar_places("here", "cpu")
        def test_everywhere_here():
            pass

        def test_unmarked():
            pass
    """)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=5 if GPU else 3, skipped=0 if GPU else 2)
    assert "test_compiled[here]" not in result.stdout.str()
    if not GPU:
        result.stdout.fnmatch_lines(["SKIPPED * test_*.py:*: cupar.places.gpu0 cannot run "
                                     "here: *"])


def test_a_misspelt_place_is_a_usage_error(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.cupar_places("gpu")
        def test_typo(cupar_place):
            pass
    """)
    result = run(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*cupar_places takes place names from*'gpu'*"])


def test_the_marker_is_registered(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.cupar_places("here")
        def test_it():
            pass
    """)
    run(pytester, "--strict-markers").assert_outcomes(passed=1)
    run(pytester, "--markers").stdout.fnmatch_lines(["@pytest.mark.cupar_places(*names):*"])


def test_the_users_example_file_passes(pytester):
    pytester.makepyfile(test_my_kernels=EXAMPLE.read_text())
    result = run(pytester, subprocess=True)
    outcomes = result.parseoutcomes()
    assert result.ret == 0 and outcomes["passed"] >= 5, result.stdout.str()
