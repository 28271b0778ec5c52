"""cupar's pytest plugin (entry point `cupar` in group `pytest11`: pytest loads it wherever
cupar is installed, and `-p no:cupar` turns it off; from a checkout that is not installed,
`-p cupar.testing.plugin` loads it, but not where it is installed too: pytest refuses a
plugin registered twice).

* fixture `cupar_place`: the test runs once per place, `here`, `cpu` and `gpu0`; where a
  place cannot run, that instance is skipped with the reason.

      def test_axpy(cupar_place):
          assert np.allclose(axpy(2.0, x, y, target_place=cupar_place), 2 * x + y)

* marker `cupar_places(*names)`: limits `cupar_place` to those places, and skips a test
  (with the reason) where any of them cannot run.

      @pytest.mark.cupar_places("gpu0")
      def test_on_the_gpu(): ...

Nothing is imported from cupar until a test asks for a place, so the plugin costs pytest
runs that do not use it nothing.
"""

from __future__ import annotations

import pytest

PLACES = ("here", "cpu", "gpu0")
MARKER = "cupar_places"


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*names): run the test (and its cupar_place fixture) only at "
        f"these cupar places ({', '.join(PLACES)}); skip, saying why, where one cannot run")


def pytest_generate_tests(metafunc) -> None:
    if "cupar_place" in metafunc.fixturenames:
        metafunc.parametrize("cupar_place", _chosen(metafunc.definition), indirect=True,
                             scope="function")


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.get_closest_marker(MARKER) is None or "cupar_place" in getattr(
                item, "fixturenames", ()):
            continue  # (with the fixture, each place is skipped by the fixture)
        reasons = [r for r in map(_missing, _chosen(item)) if r is not None]
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@pytest.fixture
def cupar_place(request):
    """A cupar place (`cupar.places.here`, `.cpu`, `.gpu0`): the test runs at each one that
    can run here and is skipped, with the reason, at any other (parametrised by
    `pytest_generate_tests`, so that the marker can choose the places)."""
    name = getattr(request, "param", "cpu")  # (asked for dynamically: the default place)
    _skip_if_missing(name)
    from .comparison import place_named
    return place_named(name)


def _chosen(node) -> tuple:
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return PLACES
    unknown = [n for n in marker.args if n not in PLACES]
    if unknown or not marker.args:
        raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.{MARKER} takes place names "
                                f"from {PLACES}, not {marker.args!r}")
    return tuple(marker.args)


def _missing(name: str) -> str | None:
    from .comparison import missing
    return missing(name)


def _skip_if_missing(name: str) -> None:
    reason = _missing(name)
    if reason is not None:
        pytest.skip(reason)
