"""The interpreter of typed IR: the meaning of every cupar program.

It walks the IR and calls each primitive's reference implementation from the table, then puts
the result in the representation of the let's inferred type (values.coerce), so every value
it holds has exactly its static type. Calls in tail position run as a loop (a trampoline),
so tail recursion needs no Python stack. Errors raised by a primitive without a location get
the location of the primitive in the user's source.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..compiler.ir import Body, Const, FnRef, Lambda, Prim, Program, Var
from ..compiler.primitives import PRIMITIVES
from ..compiler.types import Scalar, Seq
from ..errors import CuparError, CuparValueError
from .values import TupleSeq, coerce


FUEL = 100_000  # loop iterations a function may run while rows_made tries it


class OutOfFuel(Exception):
    """A function tried by rows_made ran FUEL iterations of loops: perhaps forever."""


class TailCall:
    __slots__ = ("target", "args")

    def __init__(self, target, args):
        self.target, self.args = target, args


class Closure:
    """A lambda or nested def at run time: callable from reference implementations."""

    __slots__ = ("interp", "lam", "env")

    def __init__(self, interp, lam: Lambda, env: dict):
        self.interp, self.lam, self.env = interp, lam, env

    def enter(self, args):
        env = dict(self.env)  # (shares the caller's SIZES: one length variable, one size)
        for p, a in zip(self.lam.params, args):
            env[p.name] = record(env, coerce(a, p.type), p.type)
        return self.lam.body, env

    def __call__(self, *args):
        return self.interp.invoke(self, args)


class FunctionValue:
    """A @parallel function of the program, as a callable value."""

    __slots__ = ("interp", "fn")

    def __init__(self, interp, fn):
        self.interp, self.fn = interp, fn

    def enter(self, args):
        env = {SIZES: {}}
        for p, a in zip(self.fn.params, args):
            env[p.name] = record(env, coerce(a, p.type), p.type)
        return self.fn.body, env

    def __call__(self, *args):
        return self.interp.invoke(self, args)


class Interpreter:
    def __init__(self, program: Program):
        self.program = program
        self.fuel: int | None = None  # loop steps left, while rows_made tries a function

    def run(self, args: tuple):
        entry = FunctionValue(self, self.program.functions[self.program.entry])
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return entry(*args)

    def invoke(self, target, args):
        """Run `target` and every tail call it makes, as one loop."""
        while True:
            body, env = target.enter(args)
            result = self.body(body, env, tail=True)
            if not isinstance(result, TailCall):
                return result
            target, args = result.target, result.args
            if self.fuel is not None:  # (a loop: the only code that might not end)
                self.fuel -= 1
                if self.fuel < 0:
                    raise OutOfFuel

    def body(self, body: Body, env: dict, tail: bool):
        last = len(body.lets) - 1
        for k, let in enumerate(body.lets):
            in_tail = tail and k == last and isinstance(body.result, Var) and \
                body.result.name == let.var.name
            value = self.value(let.value, env, in_tail)
            if isinstance(value, TailCall):
                return value
            if not isinstance(let.value, (Lambda, Var)):
                if isinstance(value, list) and not value and depth(let.var.type) > 1:
                    value = empty_rows(let, env, self.rows_made(let.value, env))
                try:
                    value = record(env, coerce(value, let.var.type), let.var.type)
                except CuparError as err:  # e.g. ragged rows: blame the primitive that made them
                    raise located(err, let.loc) from None
            env[let.var.name] = value
        return self.atom(body.result, env)

    def rows_made(self, value, env: dict) -> tuple:
        """The shape of the rows a `map` of no elements would make: those its function makes
        of an element of zeros, where that raises no error and ends within FUEL iterations
        of tail-recursive loops (the only code that might not end); else ()."""
        if not (isinstance(value, Prim) and value.name == "map"):
            return ()
        outer = self.fuel
        self.fuel = FUEL if outer is None else outer  # (nested tries share the outer's)
        try:
            fn = self.atom(value.args[0], env)
            row = fn(*[zero_element(self.atom(a, env)) for a in value.args[1:]])
        except Exception:  # (the element of zeros is not one the program ever sees)
            return ()
        finally:
            if outer is None:
                self.fuel = None
        return row.shape if isinstance(row, np.ndarray) else ()

    def atom(self, atom, env: dict):
        match atom:
            case Var(name):
                return env[name]
            case Const(value=FnRef(name)):
                return FunctionValue(self, self.program.functions[name])
            case Const(value=value, type=t):
                return coerce(value, t)
            case Lambda():
                return Closure(self, atom, env)
        raise TypeError(f"not an atom: {atom!r}")

    def value(self, value, env: dict, tail: bool):
        if not isinstance(value, Prim):
            return self.atom(value, env)
        if value.name == "cond":
            pred, then, other = value.args
            branch = then if self.atom(pred, env) else other
            return self.body(branch.body, env, tail)
        args = [self.atom(a, env) for a in value.args]
        if value.name == "call" and tail:
            return TailCall(args[0], args[1:])
        try:
            return PRIMITIVES[value.name].ref(*args)
        except CuparError as err:
            raise located(err, value.loc) from None
        except (ValueError, ZeroDivisionError, OverflowError) as err:
            raise CuparValueError(f"{value.name}: {err}", value.loc) from None


def depth(t) -> int:
    n = 0
    while isinstance(t, Seq):
        n, t = n + 1, t.elem
    return n


SIZES = "#sizes"  # the key, in an environment, of the sizes its length variables stand for


def record(env: dict, value, t):
    """`value`, after noting the sizes of its array's dimensions under the length variables
    of its type `t` (an empty map's rows take their length from them)."""
    sizes = env.get(SIZES)
    if sizes is not None and isinstance(value, np.ndarray):
        for size in value.shape:
            if not isinstance(t, Seq):
                break
            sizes[t.length], t = size, t.elem
    return value


def zero_element(xs):
    """An element of zeros of the sequence `xs`."""
    if isinstance(xs, TupleSeq):
        return tuple(zero_element(c) for c in xs.columns)
    a = np.asarray(xs)
    return np.zeros(a.shape[1:], a.dtype) if a.ndim > 1 else a.dtype.type(0)


def empty_rows(let, env: dict, made: tuple = ()):
    """An empty sequence of rows for `let`, shaped (0, m, ...): each row length is taken from
    an argument whose type has the same length variable (map, gather, filter, rotate ... of a
    (0, 3) or (2, 3) matrix give (0, 3)), else from any value of the function with that
    variable (`map(lambda v: y, xs)` over no xs gives rows of len(y), as compiled places do);
    a length nothing shows is that of the rows `made` (see Interpreter.rows_made), or 0."""
    sizes: dict = dict(env.get(SIZES, {}))
    for arg in getattr(let.value, "args", ()):
        value = env.get(arg.name) if isinstance(arg, Var) else None
        t = arg.type if isinstance(value, np.ndarray) else None
        for size in getattr(value, "shape", ()):
            if not isinstance(t, Seq):
                break
            sizes[t.length], t = size, t.elem
    t, shape = let.var.type.elem, [0]
    while isinstance(t, Seq):
        k = len(shape) - 1
        shape.append(sizes.get(t.length, made[k] if k < len(made) else 0))
        t = t.elem
    return np.empty(shape, dtype=t.dtype) if isinstance(t, Scalar) else []


def located(err: CuparError, loc) -> CuparError:
    """`err` itself if it names a location, else the same error at `loc`."""
    return err if err.loc is not None else type(err)(err.message, loc, err.hint)
