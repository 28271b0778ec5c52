"""Derivatives of @parallel functions: `grad`, `value_and_grad`, `vjp`.

Each is a derived cupar function: the compiler's `differentiate` pass turns the typed program
into one that computes the value and the adjoints (compiler/autodiff.py), and that program is
fused, lowered and run at a place like any other. Nothing is recorded at run time.

    dloss = cupar.grad(loss, argnums=(0, 1))
    dw, db = dloss(w, b, x, y)                       # at the current place
    value, (dw, db) = cupar.value_and_grad(loss, argnums=(0, 1))(w, b, x, y)
    value, pullback = cupar.vjp(f, x)                # any result; pullback(cotangent)
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..compiler.autodiff import Request, differentiable
from ..compiler.pipeline import PIPELINE, differentiate_pass, reference
from ..compiler.types import format_type
from ..errors import CuparTypeError, CuparValueError
from .decorator import ParallelFunction, caller_loc
from .places import to_host
from .values import TupleSeq, type_of_value


def grad(fn, argnums=0, has_aux=False):
    """The gradient of `fn`, a @parallel function returning a float number, with respect to
    argument `argnums` (an int, or a tuple of ints giving a tuple of gradients). Each
    gradient has its argument's dtype and shape. With `has_aux=True`, `fn` returns a pair
    `loss, aux` and the derivative returns `(gradients, aux)`: aux (any value, e.g. updated
    running statistics) is computed by the same program and not differentiated.

    >>> dsq = cupar.grad(sum_of_squares)     # doctest: +SKIP
    >>> dsq(np.array([1.0, 2.0]))            # doctest: +SKIP
    array([2., 4.])
    """
    return Derived(primal(fn), Request(indices(argnums), "grad",
                                       single=isinstance(argnums, int), aux=bool(has_aux)))


def value_and_grad(fn, argnums=0, has_aux=False):
    """Like `grad`, returning `(value, gradient)` from one run of one compiled program
    (`((loss, aux), gradient)` with `has_aux=True`)."""
    return Derived(primal(fn), Request(indices(argnums), "grad", value=True,
                                       single=isinstance(argnums, int), aux=bool(has_aux)))


def vjp(fn, *args, argnums=None, target_place=None):
    """`(value, pullback)`: `fn(*args)` and a function taking a cotangent shaped like the
    value (any result: number, sequence, tuple, matrix) to the adjoints of the arguments:
    a tuple with one entry per argument (None for arguments holding no floats), or only
    those in `argnums`. The pullback runs a derived program that recomputes what it needs."""
    f = primal(fn)
    value = f(*args, target_place=target_place)
    chosen = argnums
    if chosen is None:
        types = f.argument_types(args)
        chosen = tuple(k for k, t in enumerate(types) if differentiable(t))
    back = Derived(f, Request(indices(chosen), "vjp", single=isinstance(chosen, int)))
    expected = to_host(value)

    def pullback(cotangent):
        check_cotangent(cotangent, expected, caller_loc())
        grads = back(*args, cotangent, target_place=target_place)
        if argnums is not None:
            return grads
        by_arg = dict(zip(chosen, grads))
        return tuple(by_arg.get(k) for k in range(len(args)))
    return value, pullback


def primal(fn) -> ParallelFunction:
    if isinstance(fn, Derived) or not isinstance(fn, ParallelFunction):
        what = "a derived function (a gradient)" if isinstance(fn, Derived) else repr(fn)
        raise CuparTypeError(f"derivatives are taken of @parallel functions, not {what}",
                             caller_loc(), "decorate the function with @parallel; "
                             "higher derivatives are not supported yet")
    return fn


def indices(argnums) -> tuple:
    if isinstance(argnums, (int, np.integer)):
        return (int(argnums),)
    if isinstance(argnums, (tuple, list)) and argnums and \
            all(isinstance(k, (int, np.integer)) for k in argnums):
        return tuple(int(k) for k in argnums)
    raise CuparTypeError(f"argnums must be an int or a non-empty tuple of ints, not "
                         f"{argnums!r}", caller_loc(), "e.g. argnums=0 or argnums=(0, 1)")


class Derived(ParallelFunction):
    """A function derived from a @parallel function: its compiler stages are the primal's
    followed by `differentiate`; everything else (places, caches, the fast path, explain) is
    a @parallel function's. A @parallel function may call it: the caller's `infer_types`
    splices in the derived program for the call's argument types (`derived_program`)."""

    def __init__(self, fn: ParallelFunction, request: Request):
        functools.update_wrapper(self, fn.fn)
        self.primal, self.request = fn, request
        self.fn, self.parsed = fn.fn, fn.parsed
        self.name = f"{request.mode}({fn.name})"
        self._programs, self._by_signature, self._fast = {}, {}, {}
        self._lock = threading.RLock()
        self.lookup = fn.lookup

    def __repr__(self) -> str:
        return f"<cupar {self.request.mode} of {self.primal!r}, argnums " \
               f"{self.request.argnums}>"

    def __call__(self, *args, target_place=None, **keywords):
        if "out" in keywords:
            raise CuparTypeError(f"{self.name} takes no out=: it returns new arrays",
                                 caller_loc(), "copy the gradients where you need them")
        return super().__call__(*args, target_place=target_place, **keywords)

    def argument_types(self, args: tuple) -> tuple:
        if self.request.mode == "vjp":  # the last argument is the cotangent
            return self.primal.argument_types(args[:-1])
        return self.primal.argument_types(args)

    def passes(self) -> list:
        return PIPELINE + [differentiate_pass(self.request)]

    def derived_program(self, types: tuple):
        """The typed derived program for arguments of `types`: what a calling @parallel
        function splices in (a pullback, mode vjp, is called from Python only)."""
        return reference(self.stages_for(types))


def check_cotangent(cotangent, value, where) -> None:
    """The cotangent must have the value's structure, dtypes and shapes exactly."""
    got, want = describe(to_host(cotangent)), describe(value)
    if got != want:
        raise CuparValueError(f"the cotangent does not match the value: expected {want[0]}, "
                              f"got {got[0]}", where,
                              "give the pullback an array (or tuple) of the value's dtype "
                              "and shape, e.g. np.ones_like(value)")


def describe(v):
    """(text, key) of a value's structure: dtype and shape of arrays, recursively."""
    if isinstance(v, tuple):
        parts = [describe(x) for x in v]
        return "(" + ", ".join(p[0] for p in parts) + ")", tuple(p[1] for p in parts)
    if isinstance(v, TupleSeq):
        parts = [describe(c) for c in v.columns]
        return "[" + ", ".join(p[0] for p in parts) + "]", ("cols",) + tuple(p[1] for p in parts)
    if isinstance(v, (np.ndarray, np.generic)):
        return f"{v.dtype}{list(v.shape)}" if v.shape else f"{v.dtype}", (v.dtype.str, v.shape)
    try:
        t = format_type(type_of_value(v, "cotangent"))
    except Exception:  # not a value cupar takes: say what it is
        t = type(v).__name__
    return t, t
