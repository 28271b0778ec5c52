"""Timing: medians of runs taken in turns, and the machine's load while they ran.

On a GPU, launches return before the work is done: `sync` (the device's synchronise) is
called before the clock starts and before it stops, so a time covers the work itself.
"""

from __future__ import annotations

import os
import statistics
import time

SLOW_S = 10.0  # an implementation whose single run takes longer is timed once only
SPREAD = 1.5  # a row whose slowest run took longer than this times its fastest is flagged
BUSY = 0.10  # other processes' share of the CPUs above which a row is flagged
REWARM_S = 0.5  # runs shorter than this are preceded by an untimed run of their own


def no_sync():
    """The CPU's synchronise: calls return when their work is done."""


class OtherLoad:
    """The share of the machine's CPU time that other processes used while a block ran
    (Linux: /proc/stat less this process's own CPU time); None where it cannot be read."""

    def __enter__(self):
        self.start = self.sample()
        return self

    def __exit__(self, *exc):
        end = self.sample()
        self.share = None
        if self.start and end:
            (b0, own0, t0), (b1, own1, t1) = self.start, end
            wall = (t1 - t0) * (os.cpu_count() or 1)
            self.share = max(0.0, ((b1 - b0) - (own1 - own0)) / wall) if wall > 0 else None
        return False

    @staticmethod
    def sample():
        try:
            import resource
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
            busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
            own = resource.getrusage(resource.RUSAGE_SELF)
            return busy, own.ru_utime + own.ru_stime, time.perf_counter()
        except (OSError, ValueError, IndexError, ImportError):
            return None


def timed(fn, sync=no_sync) -> float:
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def measure(impls: dict, repeat: int, sync=no_sync, settle_s: float = 0.0) -> dict:
    """Median seconds of `repeat` runs of each (already warmed up). The implementations take
    turns run by run, so that a change in the machine's load hits them alike; a short run is
    preceded by an untimed run of the same implementation, so that it finds the caches as it
    leaves them rather than as the previous implementation left them. `settle_s`: a pause
    before each implementation's turn (see Case.settle_s)."""
    runs = {k: [] for k in impls}
    for _ in range(repeat):
        for label, fn in impls.items():
            if runs[label] and runs[label][-1] > SLOW_S:
                continue
            time.sleep(settle_s)
            if not runs[label] or runs[label][-1] < REWARM_S:
                fn()
            runs[label].append(timed(fn, sync))
    return {k: {"median_s": statistics.median(v), "runs_s": v} for k, v in runs.items()}


def check_and_time(record: dict, impls: dict, check, repeat: int, sync=no_sync,
                   to_host=lambda value: value, settle_s: float = 0.0) -> dict:
    """Check every implementation (the check doubles as its warm-up and compile), then time
    those that did not raise. Fills `record` (fail, first_call_s, times, other_load) and
    returns the median milliseconds by label. A failing implementation is reported and the
    others go on; one whose answer is merely wrong is still timed, marked FAIL."""
    checked = {}
    for label, impl in impls.items():
        try:
            t = timed(lambda: checked.__setitem__(label, impl()), sync)
            problem = check(to_host(checked.pop(label)))
        except Exception as exc:  # report, and go on with the others
            t, problem = None, f"raised {type(exc).__name__}: {exc}"
        if problem:
            print(f"  FAIL {record['name']}/{label}: {problem}")
            record["fail"][label] = problem
        if t is not None:
            record.setdefault("first_call_s", {})[label] = t
    impls = {k: v for k, v in impls.items() if k not in record["fail"]
             or not record["fail"][k].startswith("raised")}
    with OtherLoad() as load:
        record["times"] = measure(impls, repeat, sync, settle_s)
    record["other_load"] = load.share
    record["ms"] = {k: v["median_s"] * 1e3 for k, v in record["times"].items()}
    return record["ms"]
