"""`assert_places_agree`: one call at every place, one answer.

`places.here` (the interpreter) is what a program means; every compiled place must give the
same result: the same structure (tuples, sequences of tuples, arrays of one shape), the same
Python types and dtypes, equal integers and booleans, NaNs and infinities where the
reference has them, and other floats within

    |got - want| <= 8 * eps * ops * (|want| + scale)

where eps is the machine epsilon of the dtype; `ops` is 1, or, where the program holds a
reduction, a scan or a matrix product (whose additions a compiled place may group in another
order), the number of elements of the largest argument; `scale` is the largest magnitude in
that part of the result (and, where additions are regrouped, in the float arguments), which
bounds the error of a value that comes from cancellation.

A failure is an AssertionError listing, for each differing part, the first differing
elements side by side under the names of the two places.
"""

from __future__ import annotations

import numpy as np

from ..compiler.ir import Prim, walk_bodies
from ..compiler.types import format_type
from ..dsl import places as _places
from ..dsl.places import to_host
from ..dsl.values import TupleSeq
from ..errors import CuparError

# Primitives whose floating-point additions a compiled place may regroup.
REASSOCIATING = frozenset({"reduce", "sum", "scan", "rscan", "exclusive_scan",
                           "exclusive_rscan", "reduce_by_index", "matmul"})
ULPS = 8  # rounding errors allowed per operation: compiled math libraries differ by a few
SHOWN = 5  # differing elements listed per part


def available_places() -> list:
    """The places that can run here: `here`, `cpu`, and `gpu0` where it is available (a GPU
    with numba-cuda, or Numba's CUDA simulator under NUMBA_ENABLE_CUDASIM=1)."""
    return [p for p in (_places.here, _places.cpu, _places.gpu0) if p.available]


def place_named(place):
    """A place given as itself or by name (`"cpu"`)."""
    if isinstance(place, _places.Place):
        return place
    found = getattr(_places, str(place), None)
    if not isinstance(found, _places.Place):
        raise ValueError(f"no cupar place is called {place!r}: use here, cpu or gpu0")
    return found


def missing(place) -> str | None:
    """None where `place` can run, else why not (what is missing)."""
    place = place_named(place)
    if place.available:
        return None
    reason = place.missing() if hasattr(place, "missing") else "it is not available"
    return f"{place!r} cannot run here: {reason}"


def assert_places_agree(fn, *args, places=None, ops: int | None = None):
    """Run `fn(*args)` at `places.here` and at each compiled place (default: cpu, and gpu0
    where available; `places` takes places or their names), and assert each result agrees
    with the interpreter's (see the module's docstring). Returns the interpreter's result.
    Where the interpreter raises a cupar error, every place must raise one of the same
    class; that error is then raised. `ops` overrides the operation count of the tolerance.

    >>> assert_places_agree(axpy, np.float32(2), x, y)           # doctest: +SKIP
    >>> assert_places_agree(total, x, places=["cpu"], ops=len(x))  # doctest: +SKIP
    """
    targets = _targets(places)
    try:
        want = to_host(fn(*args, target_place=_places.here))
    except CuparError as err:
        _assert_same_error(fn, args, targets, err)
        raise
    if ops is None:
        ops = _operation_count(fn, args)
    scale = _largest_float(args) if ops > 1 else 0.0
    for place in targets:
        try:
            got = to_host(fn(*args, target_place=place))
        except Exception as exc:
            exc.add_note(f"(raised at {place!r}; at {_places.here!r} the call returned)")
            raise
        problems = differences(want, got, ops=ops, scale=scale,
                               names=(f"at {_places.here.name}", f"at {place.name}"))
        if problems:
            raise AssertionError(_report(fn, args, place, problems))
    return want


def _targets(places) -> list:
    if places is None:
        return [p for p in available_places() if p is not _places.here]
    if isinstance(places, (str, _places.Place)):
        places = [places]
    return [p for p in map(place_named, places) if p is not _places.here]


def _assert_same_error(fn, args, targets, err: CuparError) -> None:
    for place in targets:
        try:
            got = fn(*args, target_place=place)
        except CuparError as other:
            if type(other) is not type(err):
                raise AssertionError(f"{_places.here!r} raises {type(err).__name__}, "
                                     f"{place!r} raises {type(other).__name__}:\n{other}"
                                     ) from err
            continue
        raise AssertionError(f"{_places.here!r} raises {type(err).__name__}, but {place!r} "
                             f"returns {to_host(got)!r}") from err


def _operation_count(fn, args) -> int:
    """1, or the size of the largest argument where `fn` may regroup float additions (any
    callable without cupar stages is assumed to)."""
    largest = max((np.size(a) for a in _leaves(args)), default=1)
    try:
        stages = fn.stages_for(fn.argument_types(args))
    except (AttributeError, CuparError):
        return max(largest, 1)
    final = list(stages.values())[-1]
    regroups = any(isinstance(let.value, Prim) and let.value.name in REASSOCIATING
                   for f in final.functions.values() for body in walk_bodies(f.body)
                   for let in body.lets)
    return max(largest, 1) if regroups else 1


def _leaves(value):
    """The arrays and numbers inside a value (tuples and sequences of tuples opened)."""
    if isinstance(value, TupleSeq):
        value = value.columns
    if isinstance(value, tuple):  # (a list is one array-like)
        for v in value:
            yield from _leaves(v)
    else:
        yield to_host(value)


def _largest_float(args) -> float:
    sizes = [np.abs(a[np.isfinite(a)]).max(initial=0.0) for a in map(np.asarray, _leaves(args))
             if a.dtype.kind == "f"]
    return float(max(sizes, default=0.0))


# -- the comparison ---------------------------------------------------------------------

def differences(want, got, *, ops: int = 1, scale: float = 0.0, names=("want", "got"),
                path: str = "result{}") -> list[str]:
    """What differs between `want` and `got` (lines of text, none when they agree), the two
    columns headed by `names`; `path` names the part, `{}` standing for an element's index.

    >>> differences(np.float32(1), np.float64(1), names=("here", "cpu"))
    ['result: here gives a NumPy float32 scalar, cpu gives a NumPy float64 scalar']
    """
    def parts(pairs, step):
        return [line for k, (w, g) in enumerate(pairs)
                for line in differences(w, g, ops=ops, scale=scale, names=names,
                                        path=step(k))]
    if isinstance(want, TupleSeq) or isinstance(got, TupleSeq):
        if not (isinstance(want, TupleSeq) and isinstance(got, TupleSeq)
                and (want.depth, len(want.columns)) == (got.depth, len(got.columns))):
            return [_structure(path, want, got, names)]
        return parts(zip(want.columns, got.columns), lambda k: path.replace("{}", f"{{}}[{k}]"))
    if isinstance(want, tuple) or isinstance(got, tuple):
        if not (isinstance(want, tuple) and isinstance(got, tuple) and len(want) == len(got)):
            return [_structure(path, want, got, names)]
        return parts(zip(want, got), lambda k: path.replace("{}", f"[{k}]{{}}"))
    if _kind(want) != _kind(got):
        return [_structure(path, want, got, names)]
    return _compare_numbers(want, got, ops, scale, path, names)


def _kind(value) -> tuple:
    """What must match exactly: Python type, and for NumPy values dtype and shape."""
    if isinstance(value, (np.ndarray, np.generic)):
        return (np.ndarray if isinstance(value, np.ndarray) else np.generic,
                value.dtype, np.shape(value))
    return (type(value),)


def _describe(value) -> str:
    if isinstance(value, TupleSeq):
        return f"a sequence of {len(value)} tuples of {len(value.columns)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype} with shape {value.shape}"
    if isinstance(value, np.generic):
        return f"a NumPy {value.dtype} scalar"
    return f"a Python {type(value).__name__}"


def _structure(path: str, want, got, names) -> str:
    name = _part_name(path, getattr(want, "ndim", 0))
    return (f"{name}: {names[0]} gives {_describe(want)}, "
            f"{names[1]} gives {_describe(got)}")


def _compare_numbers(want, got, ops: int, scale: float, path: str, names) -> list:
    w, g = np.asarray(want), np.asarray(got)
    if w.dtype.kind != "f":
        bad, rule = np.asarray(w != g), "exactly"
    else:
        bad, rule = _float_mismatch(w, g, ops, scale)
    if not bad.any():
        return []
    count = int(bad.sum())
    rows = [("element", *names)] + [
        (path.format("".join(f"[{i}]" for i in index)), str(w[tuple(index)]),
         str(g[tuple(index)])) for index in (np.argwhere(bad)[:SHOWN] if w.ndim else [()])]
    widths = [max(len(row[k]) for row in rows) + 3 for k in range(2)]
    return [f"{_part_name(path, w.ndim)}: {count} of {bad.size} element"
            f"{'s' * (bad.size != 1)} differ{'s' * (count == 1)} ({w.dtype}, compared {rule})"
            ] + ["    " + row[0].ljust(widths[0]) + row[1].ljust(widths[1]) + row[2]
                 for row in rows]


def _part_name(path: str, ndim: int) -> str:
    """A part's name: `result[1]`, or `result[1][i][0]` for a field of a sequence's tuples."""
    return path.format("" if path.endswith("{}") else "[i]" + "[j]" * (ndim > 1))


def _float_mismatch(w: np.ndarray, g: np.ndarray, ops: int, scale: float):
    nan_w, nan_g = np.isnan(w), np.isnan(g)
    special = nan_w | np.isinf(w)
    finite_w = np.where(special, 0, w).astype(np.float64)
    finite_g = np.where(special | nan_g, 0, g).astype(np.float64)
    eps = float(np.finfo(w.dtype).eps)
    part_scale = max(scale, float(np.abs(finite_w).max(initial=0.0)))
    tol = ULPS * eps * ops * (np.abs(finite_w) + part_scale) + float(np.finfo(w.dtype).tiny)
    bad = np.where(special, ~((nan_w & nan_g) | (w == g)), nan_g | (np.abs(finite_w - finite_g)
                                                                      > tol))
    rule = f"within {ULPS} eps x {ops} op{'s' * (ops != 1)} x (|value| + {part_scale:.3g})"
    return np.asarray(bad), rule


def _report(fn, args, place, problems: list) -> str:
    head = (f"{_call_text(fn, args)} gives a different result at {place!r} than at "
            f"{_places.here!r} (the interpreter, whose result is the reference):")
    return "\n".join([head] + ["  " + line for line in problems])


def _call_text(fn, args) -> str:
    name = getattr(fn, "__name__", repr(fn))
    try:
        dims: dict = {}
        return f"{name}({', '.join(format_type(t, dims) for t in fn.argument_types(args))})"
    except (AttributeError, CuparError):
        return f"{name}(...)"
