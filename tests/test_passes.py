"""Every optimising pass keeps the meaning: the interpreted program after each pass agrees with
the typed reference on the golden programs and the examples' main functions."""

import numpy as np
import pytest

from cupar.dsl.bisect import bisect_passes, same_value
from golden_programs import PROGRAMS
from test_examples import MAIN_FUNCTIONS, load


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_golden_programs_keep_their_meaning(name):
    fn, args = PROGRAMS[name]
    assert bisect_passes(fn, *args) is None


@pytest.mark.parametrize("name", sorted(MAIN_FUNCTIONS))
def test_examples_keep_their_meaning(name):
    fn_name, make_args = MAIN_FUNCTIONS[name]
    assert bisect_passes(getattr(load(name), fn_name), *make_args()) is None


def test_same_value_is_strict_about_types():
    assert same_value(np.float32(1), np.float32(1))
    assert not same_value(np.float32(1), np.float64(1))
    assert not same_value(np.ones(2, np.float32), np.ones(2, np.float64))
    assert same_value((np.float64("nan"), 1), (np.float64("nan"), 1))
