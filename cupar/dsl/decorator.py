"""`@parallel`: capture a function, compile it per argument types, run it at a place.

The source is parsed when the decorator runs, so unsupported syntax is reported at once.
Names are resolved and types inferred at the first call with each combination of argument
types; the typed program is cached on the function (lengths are not part of the key).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import sys
import threading

import numpy as np

from ..compiler.ir import Program
from ..compiler.pipeline import compile_program, dump_observer, reference
from ..compiler.resolve import MISSING
from ..compiler.types import canonical
from ..compiler.frontend import parse_function
from ..errors import (CuparError, CuparTypeError, InternalError, Loc, SourceUnavailableError,
                      message, show_full_traceback)
from ..runtime.dispatch import MISS, rebuild
from ..runtime.cuda.device_array import DeviceArray
from . import notebook, places
from .outputs import fill, flat_outs
from .values import as_array, type_of_value


def parallel(fn):
    """Make `fn` a cupar function: data-parallel, compiled per argument types, run at the
    current place (`cupar.places.cpu` unless a `with place:` block or `target_place=` says).

    >>> @parallel
    ... def axpy(a, x, y):
    ...     return map(lambda xi, yi: a * xi + yi, x, y)
    """
    if isinstance(fn, ParallelFunction):
        return fn
    try:
        return ParallelFunction(fn)
    except CuparError as err:  # its message shows the user's line: the front end's frames
        notebook.install_traceback_handler()  # are noise (IPython shows all of them for a
        if show_full_traceback():  # SyntaxError); IPython shows no cupar frame at all
            raise
        raise err.with_traceback(None) from None


class ParallelFunction:
    def __init__(self, fn):
        if not inspect.isfunction(fn):
            raise CuparTypeError(f"@parallel applies to functions, not {type(fn).__name__}",
                                 None, "decorate a function defined with `def`")
        self.setup(fn, parse_function(*source_of(fn)))

    def setup(self, fn, parsed) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.name, self.parsed = fn, fn.__name__, parsed
        self._programs: dict = {}
        self._by_signature: dict = {}  # quick_signature(args) -> stages: the warm-call path
        self._fast: dict = {}  # (quick_signature, place) -> (resolved stage, fast call)
        self._lock = threading.RLock()

    def __reduce__(self):
        """Pickled by name where the name imports back to this function, else with the
        function itself (by value, as cloudpickle does for Dask and multiprocessing); the
        compiled kernels are not pickled: the receiver loads them from its disk cache."""
        module = sys.modules.get(self.fn.__module__)
        if self.fn.__module__ != "__main__" and \
                getattr(module, self.fn.__qualname__, None) is self:
            return (import_function, (self.fn.__module__, self.fn.__qualname__))
        return (unpickle_function, (self.fn, self.parsed))

    @property
    def cupar_source(self):
        """The handle the compiler reads this function through (name, parsed IR, lookup)."""
        return self

    def lookup(self, name: str):
        """A free name of the function: closure variable, then module global."""
        code = self.fn.__code__
        if name in code.co_freevars and self.fn.__closure__:
            cell = self.fn.__closure__[code.co_freevars.index(name)]
            try:
                return cell.cell_contents
            except ValueError:  # not yet assigned in the enclosing function
                return MISSING
        return self.fn.__globals__.get(name, MISSING)

    def lookup_place(self, name: str):
        """The dict `lookup` reads `name` from (the module's globals), or None (a closure
        variable)."""
        code = self.fn.__code__
        if name in code.co_freevars and self.fn.__closure__:
            return None
        return self.fn.__globals__

    def __repr__(self) -> str:
        return f"<cupar.parallel function {self.fn.__module__}.{self.fn.__qualname__}>"

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, target_place=None, out=None, **keywords):
        """Run at `target_place` (default: the current place); `out=` takes arrays to write
        the result into. A warm compiled call with array and scalar arguments takes a short
        path; anything it does not handle, errors included, takes the full one."""
        place = places.current() if target_place is None else target_place
        if out is None and not keywords and isinstance(place, places.Compiling):
            fast = self._fast.get((quick_signature(args), place))
            if fast is not None and fast[0].is_current():
                try:
                    value = fast[1](args)
                    if value is not MISS:
                        return value
                except Exception:  # the full path reports it, with its context
                    pass
        return self.call(args, target_place, out, keywords)

    def call(self, args: tuple, target_place, out, keywords: dict):
        try:
            if keywords:
                raise self.keyword_error(next(iter(keywords)))
            place = choose_place(target_place)
            signature = quick_signature(args)
            stages = self._by_signature.get(signature)
            if stages is None or not stages["resolve_globals"].is_current():
                stages = self.stages_for(self.argument_types(args))
                if signature is not None:
                    self._by_signature[signature] = stages
            values = tuple(place.prepare(prepare(a)) for a in args)
            try:
                if out is not None:
                    return self.call_into(place, stages, values, out)
                value = place.execute(stages, values)
                if signature is not None and isinstance(place, places.Compiling):
                    self.remember_fast(signature, place, stages)
                return value
            except CuparError:
                raise
            except Exception as exc:
                raise InternalError(f"running `{self.name}` at {place!r} failed: "
                                    f"{type(exc).__name__}: {exc}", self.parsed.loc) from exc
        except CuparError as err:
            reported(err)

    def specialize(self, *args, target_place=None):
        """This function compiled for arguments of the types of `args` at `target_place`
        (default: the current place), as a callable that skips an ordinary call's per-call
        look-up and refuses arguments of other types (see specialized.py)."""
        from .specialized import Specialized
        try:
            place = choose_place(target_place)
            stages = self.stages_for(self.argument_types(args))
            fast = runner = None
            if quick_signature(args) is not None and isinstance(place, places.Compiling):
                fast, runner = place.fast_call(stages), place.flat_runner(stages)
            return Specialized(self, place, args, fast, runner)
        except CuparError as err:
            reported(err)

    def remember_fast(self, signature: tuple, place, stages: dict) -> None:
        fast = place.fast_call(stages)
        if fast is not None:
            self._fast[signature, place] = (stages["resolve_globals"], fast)

    def call_into(self, place, stages: dict, values: tuple, out):
        """The call with `out=`: results written into the caller's arrays (see outputs)."""
        where = caller_loc()
        result_type = reference(stages).main.result_type
        outs = flat_outs(out, result_type, where)
        parts = place.execute_parts(stages, values, outs)
        return rebuild(iter(fill(outs, parts, where)), result_type)

    def keyword_error(self, keyword: str) -> CuparTypeError:
        params = ", ".join(p.name for p in self.parsed.params)
        text, hint = message("call_keyword", what=self.name, name=keyword, params=params)
        return CuparTypeError(text, caller_loc(), hint)

    def argument_types(self, args: tuple) -> tuple:
        params = [p.name for p in self.parsed.params]
        if len(args) != len(params):
            raise self.argument_count_error(args)
        types = []
        for name, value in zip(params, args):
            try:
                types.append(type_of_value(value, f"argument `{name}` of `{self.name}`"))
            except CuparError as err:
                raise type(err)(err.message, caller_loc(), err.hint) from None
        return tuple(types)

    def argument_count_error(self, args: tuple) -> CuparTypeError:
        params = [p.name for p in self.parsed.params]
        return CuparTypeError(
            f"`{self.name}` takes {len(params)} argument{'s' * (len(params) != 1)} "
            f"({', '.join(params)}), but {len(args)} {'was' if len(args) == 1 else 'were'} "
            "given", caller_loc(), f"call it as {self.name}({', '.join(params)})")

    def stages_for(self, types: tuple, observe=None) -> dict[str, Program]:
        """Every compiler stage of this function for these argument types (cached)."""
        key = canonical(types)
        with self._lock:
            cached = self._programs.get(key)
            if observe is None and cached and cached["resolve_globals"].is_current():
                return cached
            name = self.parsed.name
            program = Program({name: self.parsed}, name, types, {name: self})
            stages = compile_program(program, observe or dump_observer(), self.passes())
            self._programs[key] = stages
            return stages

    def passes(self) -> list | None:
        """The compiler passes its programs go through (None: the pipeline)."""
        return None


def reported(err: CuparError):
    """Raise `err` as cupar shows its errors: without cupar's frames, unless asked."""
    notebook.install_traceback_handler()  # (cupar may predate the IPython shell)
    if show_full_traceback():
        raise err
    raise err.with_traceback(None) from None


def unpickle_function(fn, parsed) -> ParallelFunction:
    """A function sent by value: its parsed source travels with it (the receiver may not
    be able to read the source, e.g. a Dask worker given a function of a script)."""
    made = ParallelFunction.__new__(ParallelFunction)
    made.setup(fn, parsed)
    return made


def import_function(module: str, name: str) -> ParallelFunction:
    import importlib
    return getattr(importlib.import_module(module), name)


def quick_signature(args: tuple):
    """A cheap key that determines the argument types (None when there is none): a warm call
    looks its compiled stages up by this instead of typing every argument again."""
    key = []
    for a in args:
        kind = type(a)
        if kind is np.ndarray or kind is DeviceArray:
            ndim, dtype = a.ndim, a.dtype
            if ndim == 0 and kind is np.ndarray:
                return None  # a 0-d array is a scalar: prepare() unwraps it on the full path
            key.append((dtype.num, dtype.isnative, ndim))
        elif kind is int and not -(1 << 63) <= a < (1 << 63):
            return None  # the slow path reports it
        elif kind in (int, float, bool) or isinstance(a, np.generic):
            key.append(kind)
        else:
            return None
    return tuple(key)


def choose_place(target_place) -> places.Place:
    if target_place is None:
        return places.current()
    if not isinstance(target_place, places.Place):
        raise CuparTypeError(f"target_place must be a cupar place, not {target_place!r}",
                             caller_loc(), "use cupar.places.here, cupar.places.cpu or "
                             "cupar.places.gpu0")
    return target_place


def prepare(value):
    """An argument in the representation the places expect (array-likes become arrays, a
    0-d array the scalar it holds, as its type says)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    if isinstance(value, (list,)) or (hasattr(value, "__array__") and
                                      not hasattr(value, "dtype")):
        return as_array(value, "argument", None)
    return value


def source_of(fn) -> tuple[str, str, int]:
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        raise SourceUnavailableError(
            f"cupar cannot read the source of `{fn.__name__}`", None,
            "define @parallel functions in a file or a notebook cell; code run from a string "
            "or the plain interactive prompt keeps no source") from None
    file = inspect.getsourcefile(fn) or fn.__code__.co_filename
    return "".join(lines), file, first


def caller_loc() -> Loc | None:
    """The location of the user's call: the first frame outside the cupar package. (Read
    from the frame itself: inspect.getframeinfo searches every module for the file, which
    costs milliseconds a call.)"""
    frame = sys._getframe(1)
    package = __name__.rsplit(".", 2)[0]
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package + "."):
        frame = frame.f_back
    if frame is None:
        return None
    code, col = frame.f_code, 0
    if frame.f_lasti >= 0:
        positions = next(itertools.islice(code.co_positions(), frame.f_lasti // 2, None),
                         None)
        col = positions[2] if positions and positions[2] is not None else 0
    return Loc(code.co_filename, frame.f_lineno, col)
