"""Random programs (random_programs.py) at places.here and at the compiled place (cpu, or
gpu0 under the simulator), on inputs of length 0, 1 and more.

A program must run at `here`, or be rejected there with a located cupar error (a type
error, say) which the compiled place then raises alike; an internal error, or any other
exception, is a failure. Its compiled results must equal here's (integers exactly, floats
within a tolerance for reassociated sums). A failure prints the program's source.

`make test` checks 300 programs at here, the first 150 of them at cpu too, and 4 programs
for long inputs, through cpu's chunked parallel code (seeds 0, 1, ...): about 70 s on the
2-core development machine, 15 s once the disk cache is warm; under the simulator, 10
programs at gpu0. For a longer hunt:
    CUPAR_FUZZ_PROGRAMS=5000 CUPAR_FUZZ_COMPILED=1000 CUPAR_FUZZ_LONG=50 \
        CUPAR_FUZZ_SEED=100000 .venv/bin/python -m pytest -q -x tests/test_random_programs.py
or, to list what happens to each program without stopping at the first failure (first
seed, programs, how many of them compiled too; `long` for long inputs):
    .venv/bin/python tests/test_random_programs.py 100000 5000 1000 [long]
"""

import contextlib
import os
import signal
import sys
import warnings
from collections import Counter

import numpy as np
import pytest

import cupar
from cupar.errors import CuparError, InternalError, NotCompiledWarning
from cupar.runtime.cpu import codegen as numba_cpu, engine as cpu
from random_programs import LONG, LONG_SERIAL_BELOW, NMAX, inputs, load, program
from strategies import COMPILED, ON_GPU, assert_close

SEED = int(os.environ.get("CUPAR_FUZZ_SEED", "0"))
PROGRAMS = int(os.environ.get("CUPAR_FUZZ_PROGRAMS", "10" if ON_GPU else "300"))
COMPILED_PROGRAMS = int(os.environ.get("CUPAR_FUZZ_COMPILED", "10" if ON_GPU else "40"))
LONG_PROGRAMS = int(os.environ.get("CUPAR_FUZZ_LONG", "0" if ON_GPU else "4"))
SIZES = (0, 1, 7) if ON_GPU else (0, 1, 5, NMAX)
LONG_SIZES = (LONG,)
# seconds a program may take at here on one input: the interpreter evaluates a loop-invariant
# expression inside a lambda again for every element, so a generated program whose loops
# nest two deep can still take hours on long inputs (seed 70007: a scan inside a map inside
# a map); such a program is reported as "slow" and not compared
HERE_SECONDS = float(os.environ.get("CUPAR_FUZZ_HERE_SECONDS", "60"))


class Rejected(Exception):
    """Raised by `run` when here rejects a program with a located cupar error."""


class TooSlow(BaseException):
    """Raised inside the interpreter when a program overruns HERE_SECONDS (a BaseException,
    as KeyboardInterrupt is, so that cupar passes it through rather than reporting it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """TooSlow after `seconds` of this thread's running (only where signals are usable)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TooSlow(f"over {seconds:g} s at here")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(prog, args, place):
    """`prog(*args)` at `place` (None: a plain call), or the located cupar error it raised
    (as a value)."""
    try:
        return prog(*args) if place is None else prog(*args, target_place=place)
    except InternalError:
        raise
    except CuparError as error:
        return error


def check(seed: int, compiled: bool, long: bool = False) -> str:
    """Run program `seed` at here (and at the compiled place when `compiled`); return what
    happened: 'ok', 'rejected: <error>', or 'interpreted' (the compiled place fell back).
    `long`: the program for long inputs, on one (see random_programs.LONG)."""
    source = program(seed, long)
    try:
        return check_source(source, seed, compiled, LONG_SIZES if long else SIZES)
    except Exception as error:
        error.add_note(f"random program {seed}{' (long)' if long else ''}:\n{source}")
        raise


def check_source(source: str, seed: int, compiled: bool, sizes: tuple) -> str:
    prog = outcome(load, (source,), None)  # (refused when decorated: at every place alike)
    if isinstance(prog, CuparError):
        return f"rejected: {type(prog).__name__}: {str(prog).splitlines()[0]}"
    rejected, what = [], "ok"
    for n in sizes:
        args = inputs(seed + n, n)
        try:
            with time_limit(HERE_SECONDS):
                expected = outcome(prog, args, cupar.places.here)
        except TooSlow as slow:
            return f"slow: {slow}"
        if isinstance(expected, CuparError):
            rejected.append(f"{type(expected).__name__}: {str(expected).splitlines()[0]}")
        if not compiled:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NotCompiledWarning)
            actual = outcome(prog, args, COMPILED)
        if any(issubclass(w.category, NotCompiledWarning) for w in caught):
            what = "interpreted"
        if isinstance(expected, CuparError):
            assert type(actual) is type(expected) and str(actual) == str(expected), \
                f"here raised {expected!r}, {COMPILED.name} gave {actual!r}"
        else:
            assert not isinstance(actual, CuparError), \
                f"{COMPILED.name} raised {actual!r}, here gave {expected!r}"
            assert_close(actual, expected, terms=NMAX * max(n, NMAX), scale=1.0)
    if len(rejected) == len(sizes):  # (at some lengths only, such as a matrix made by a
        return f"rejected: {rejected[0]}"  # map over nothing, which is 0 x 0: checked too)
    return what


@pytest.mark.parametrize("seed", range(SEED, SEED + PROGRAMS))
def test_random_program(seed):
    what = check(seed, seed < SEED + COMPILED_PROGRAMS)
    assert not what.startswith("rejected: InternalError"), what


@pytest.mark.parametrize("seed", range(SEED, SEED + LONG_PROGRAMS))
def test_random_program_on_long_inputs(seed):
    """The chunked parallel code paths, which only long inputs take."""
    with parallel_paths():
        what = check(seed, True, long=True)
    assert not what.startswith("rejected: InternalError"), what


@contextlib.contextmanager
def parallel_paths():
    """Calls run the parallel variant, whose loops run their parallel copies from
    LONG_SERIAL_BELOW elements (16384 otherwise, where the interpreter is slow). The
    generated source says the length, so its disk-cache entry is apart."""
    saved = numba_cpu.SERIAL_BELOW, cpu.SMALL_CALL
    numba_cpu.SERIAL_BELOW, cpu.SMALL_CALL = LONG_SERIAL_BELOW, 0
    try:
        yield
    finally:
        numba_cpu.SERIAL_BELOW, cpu.SMALL_CALL = saved


@pytest.mark.skipif(ON_GPU, reason="a property of the generator, not of a place")
def test_most_programs_are_accepted():
    """A generator whose programs cupar mostly rejects tests little: at most one in ten."""
    rejected = [s for s in range(SEED, SEED + 50) if check(s, False).startswith("rejected")]
    assert len(rejected) <= 5, f"programs rejected: {rejected}"


def hunt(first: int, count: int, compiled: int, long: bool = False) -> None:
    """Check `count` programs from seed `first`, the first `compiled` of them at the
    compiled place too, reporting each failure and a summary (not stopping)."""
    seen = Counter()
    for seed in range(first, first + count):
        try:
            with parallel_paths() if long else contextlib.nullcontext():
                what = check(seed, seed < first + compiled, long)
        except Exception as error:  # report and go on
            what = f"FAILED: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
            print(f"--- seed {seed}: {what}\n{program(seed, long)}", flush=True)
        seen[what if not what.startswith("rejected") else what[:120]] += 1
    for what, k in seen.most_common():
        print(f"{k:6d}  {what}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    hunt(*(int(a) for a in sys.argv[1:4]), long="long" in sys.argv[4:])
