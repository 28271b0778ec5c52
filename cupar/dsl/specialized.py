"""`fn.specialize(*args)`: a parallel function compiled once for its arguments' types, as a
callable whose calls skip the look-up an ordinary call makes (a key of every argument's
type, a dictionary of compiled stages, a check that no global the program read was
rebound): for a program called thousands of times on small data, such as a training step.

    step = train.specialize(w, b, x, y, 0.1)
    for x, y in batches:
        w, b = step(w, b, x, y, 0.1)     # the same argument types at every call

At a compiling place (cpu, gpu0) it is, as `jax.jit(f).lower(...).compile()`, a snapshot:
rebinding a global the function reads does not change it. (A call that fails is run again
as an ordinary call, which reports the error with its context; at `here`, every call is an
ordinary one.) A call whose arguments are of other types is refused with a CuparTypeError
naming the argument (call the function itself for those). The check of the
types is generated as one expression per specialisation (18 arguments: about 2 us, against
the 8 us of the ordinary call's look-up).
"""

from __future__ import annotations

import numpy as np

from ..errors import CuparError, CuparTypeError
from ..runtime.cuda.device_array import DeviceArray
from ..runtime.dispatch import MISS
from .decorator import caller_loc

INT64 = (-(1 << 63), 1 << 63)


class Specialized:
    """`fn` at `place` for arguments of the types `args` have (see the module's doc)."""

    def __init__(self, fn, place, args: tuple, fast, runner=None):
        self.fn, self.place = fn, place
        self.kinds = tuple(kind_of(a) for a in args)
        self.fits = type_check(self.kinds)
        self.fast = fast  # the place's warm call (None: ordinary calls, e.g. at here)
        # with the place's runner (cpu), one generated function checks the types and the
        # arrays' layout and calls it: the generic warm call's loop over the arguments
        # took 7 of a training step's 46 us
        self.call = direct_call(self.kinds, runner, self.checked) if runner else self.checked

    def __call__(self, *args):
        return self.call(*args)

    def checked(self, *args):
        """The call by the place's generic warm call, or the ordinary call."""
        if len(args) == len(self.kinds) and self.fits(*args):
            if self.fast is not None:
                try:
                    value = self.fast(args)
                    if value is not MISS:
                        return value
                except Exception:  # the ordinary call reports it, with its context
                    pass
            return self.fn(*args, target_place=self.place)
        raise self.mismatch(args).with_traceback(None) from None

    def mismatch(self, args: tuple) -> CuparError:
        params = [p.name for p in self.fn.parsed.params]
        if len(args) != len(self.kinds):
            return CuparTypeError(f"`{self.fn.name}` was specialised for {len(self.kinds)} "
                                  f"arguments, but {len(args)} were given", caller_loc(),
                                  f"call it as {self.fn.name}({', '.join(params)})")
        for name, a, kind in zip(params, args, self.kinds):
            if kind_of(a) != kind:
                return CuparTypeError(
                    f"argument `{name}` of `{self.fn.name}` is {describe(kind_of(a))}, but it "
                    f"was specialised for {describe(kind)}", caller_loc(),
                    f"specialise again for these types, or call `{self.fn.name}` itself")
        return CuparTypeError(f"the arguments of `{self.fn.name}` do not fit its "
                              "specialisation", caller_loc(), None)

    def __repr__(self) -> str:
        return f"<{self.fn.name} specialised at {self.place!r} for " \
               f"({', '.join(map(describe, self.kinds))})>"


def kind_of(a) -> tuple:
    """What the check compares: (class, dtype, ndim) of an array, (class,) of a scalar."""
    kind = type(a)
    if kind is np.ndarray or kind is DeviceArray:
        return (kind, a.dtype, a.ndim)
    return (kind,)


def describe(kind: tuple) -> str:
    if len(kind) == 3:
        where = "a device array" if kind[0] is DeviceArray else "an array"
        return f"{where} of {kind[1]} with {kind[2]} dimension{'s' * (kind[2] != 1)}"
    name = kind[0].__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def direct_call(kinds: tuple, runner, otherwise):
    """A generated function of the arguments: where each is of its kind and every array is
    contiguous, `runner(flat, largest size, largest bytes)`; else, or where that raises,
    `otherwise(*args)` (which reports, or copies a strided array and calls)."""
    arrays = [f"a{k}" for k, kind in enumerate(kinds) if len(kind) == 3]
    params = "".join(f"a{k}, " for k in range(len(kinds)))
    size = f"max({', '.join(a + '.size' for a in arrays)}, 0)" if arrays else "0"
    nbytes = f"max({', '.join(a + '.nbytes' for a in arrays)}, 0)" if arrays else "0"
    layout = "".join(f" and {a}.flags.c_contiguous" for a in arrays)
    terms, scope = type_terms(kinds)
    scope.update(run=runner, otherwise=otherwise)
    exec(f"def call(*args):\n"
         f"    if len(args) == {len(kinds)}:\n"
         f"        {params}= args\n"
         f"        if {terms}{layout}:\n"
         f"            try:\n"
         f"                return run([{params}], {size}, {nbytes})\n"
         f"            except Exception:\n"
         f"                pass\n"
         f"    return otherwise(*args)\n", scope)
    return scope["call"]


def type_check(kinds: tuple):
    """One generated function of the arguments: whether each is of its kind."""
    terms, scope = type_terms(kinds)
    params = ", ".join(f"a{k}" for k in range(len(kinds)))
    exec(f"def fits({params}):\n    return {terms}\n", scope)
    return scope["fits"]


def type_terms(kinds: tuple) -> tuple[str, dict]:
    """The test that arguments a0, a1, ... are of `kinds` (arrays by class, dtype and rank;
    Python ints within int64, as the ordinary call requires), and the names it reads."""
    scope = {"np": np, "LO": INT64[0], "HI": INT64[1], "__name__": __name__}  # (cupar's
    # code to caller_loc, which names the user's line)
    terms = []
    for k, kind in enumerate(kinds):
        a = f"a{k}"
        scope[f"T{k}"] = kind[0]
        if len(kind) == 3:
            scope[f"D{k}"] = kind[1]
            terms.append(f"type({a}) is T{k} and {a}.ndim == {kind[2]} and "
                         f"({a}.dtype is D{k} or {a}.dtype == D{k})")
        elif kind[0] is int:
            terms.append(f"type({a}) is int and LO <= {a} < HI")
        else:
            terms.append(f"type({a}) is T{k}")
    return " and ".join(terms) or "True", scope
