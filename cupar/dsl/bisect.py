"""Find the compiler pass that changed a program's answer (after Parakeet's pass replay).

Every stage from the typed reference on is a complete program the interpreter can run, so a
wrong answer at a compiled place can be traced to the first pass whose output, interpreted,
disagrees with the reference.

    >>> bisect_passes(black_scholes, s, x, t, r, v)     # doctest: +SKIP
    None                                                 # every stage agrees
"""

from __future__ import annotations

import numpy as np

from ..compiler.pipeline import REFERENCE_STAGE
from .interpreter import Interpreter
from .values import TupleSeq


def bisect_passes(fn, *args) -> str | None:
    """The first pass after the reference stage whose program gives a different result on
    `args` than the reference, or None when all agree."""
    stages = fn.stages_for(fn.argument_types(args))
    names = list(stages)
    start = "differentiate" if "differentiate" in stages else REFERENCE_STAGE
    expected = Interpreter(stages[start]).run(args)
    for name in names[names.index(start) + 1:]:
        if not same_value(Interpreter(stages[name]).run(args), expected):
            return name
    return None


def same_value(a, b) -> bool:
    """Equal values of equal types: dtypes, shapes and bits (NaNs equal to NaNs)."""
    if isinstance(a, TupleSeq) or isinstance(b, TupleSeq):
        return (isinstance(a, TupleSeq) and isinstance(b, TupleSeq) and a.depth == b.depth
                and len(a.columns) == len(b.columns)
                and all(same_value(x, y) for x, y in zip(a.columns, b.columns)))
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return bool(a == b) or bool(np.isnan(a) and np.isnan(b))
