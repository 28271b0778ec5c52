"""Testing your own cupar kernels the way cupar tests itself.

    from hypothesis import given
    from cupar.testing import values, assert_places_agree

    @given(values("f32", "f32[n]", "f32[n]"))
    def test_axpy(args):
        assert_places_agree(axpy, *args)     # here, cpu and (where available) gpu0 agree

* `values(...)`: hypothesis strategies named by cupar types (`cupar.testing.strategies`).
* `assert_places_agree(fn, *args)`: the interpreter against every compiled place
  (`cupar.testing.comparison`).
* a pytest plugin, loaded by pytest wherever cupar is installed: the `cupar_place` fixture
  runs a test at each place, the `cupar_places(...)` marker limits a test to some places and
  skips it, with the reason, where one cannot run (`cupar.testing.plugin`).

hypothesis is a test extra (`pip install 'cupar[test]'`): it is imported only when the
strategies are first used.
"""

from .comparison import assert_places_agree, available_places, differences, missing

__all__ = ["assert_places_agree", "available_places", "differences", "missing", "values",
           "lengths"]


def __getattr__(name: str):
    if name in ("values", "lengths"):  # imports hypothesis: only when asked for
        from . import strategies
        return getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
