"""Where a generated cpu kernel spends its time, by line of its generated source.

    python scripts/line_profile.py KERNEL.py ENTRY SETUP.py [--seconds S]

KERNEL.py is a module cupar generated (`CUPAR_CACHE_DIR`'s `numba-*/k*.py`; `cupar.explain`
shows which); ENTRY is the function in it to run; SETUP.py defines `arguments()`, returning
the arguments to call it with (for a training step: `step.arguments(x, y)` of an
`nn.TrainStep`). The module is copied and compiled again with debug line information; it is
then called in a loop for S seconds while `perf record` samples this process (Linux, perf
installed, permission to trace one's own processes). Each sample in the compiled code is
mapped to a line of the copy through the object file LLVM emits for it (`addr2line`), and
the report lists the hottest lines, and the same samples summed by the top-level statement
of the function they fall in (a loop nest of the kernel). Samples in inlined code without
line information (vector math, matrix tiles) are listed by function.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import importlib.util
import os
import subprocess
import sys
import tempfile
import time


def compiled_copy(path: str, work: str):
    """The kernel module, compiled again from a copy with debug line information."""
    source = open(path).read().replace("cache=True", "cache=False")
    source = source.replace("@numba.njit(", "@numba.njit(debug=True, boundscheck=False, ")
    copy = os.path.join(work, "kernel_copy.py")
    with open(copy, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("kernel_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, copy


def code_ranges(work: str) -> list:
    """(start, end, object file, offset in it) of every function compiled in the copy."""
    import gc
    from numba.core.registry import CPUDispatcher
    libraries = [cres.library for d in gc.get_objects() if isinstance(d, CPUDispatcher)
                 and getattr(d.py_func, "__module__", "") == "kernel_copy"
                 for cres in d.overloads.values()]
    ranges = []
    for k, library in enumerate(libraries):
        path = os.path.join(work, f"kernel{k}.o")
        with open(path, "wb") as f:
            f.write(library._codegen._tm.emit_object(library._final_module))
        sizes = {}
        for line in subprocess.run(["nm", "-S", path], capture_output=True,
                                   text=True).stdout.splitlines():
            parts = line.split()
            if len(parts) == 4:
                sizes[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
        for fn in library._final_module.functions:
            if not fn.is_declaration and fn.name in sizes:
                start = library.get_pointer_to_function(fn.name)
                offset, size = sizes[fn.name]
                ranges.append((start, start + size, path, offset))
    return sorted(ranges)


def sample(entry, args: tuple, seconds: float, work: str) -> list[int]:
    """The instruction addresses perf sampled while `entry(*args)` ran in a loop."""
    data = os.path.join(work, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-o", data, "-p", str(os.getpid()),
                             "--", "sleep", str(seconds)])
    start = time.time()
    calls = 0
    while perf.poll() is None:
        entry(*args)
        calls += 1
    print(f"{calls} calls, {(time.time() - start) / max(calls, 1) * 1e6:.0f} us each")
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True,
                         text=True).stdout
    return [int(ip, 16) for ip in out.split()]


def locate(ips: list[int], ranges: list) -> collections.Counter:
    """Samples per (object file, offset), for those in the copy's code."""
    starts = [r[0] for r in ranges]
    hits = collections.Counter()
    for ip in ips:
        k = bisect.bisect_right(starts, ip) - 1
        if k >= 0 and ip < ranges[k][1]:
            start, _, path, offset = ranges[k]
            hits[path, offset + ip - start] += 1
    return hits


def by_line(hits: collections.Counter, lines: list[str]) -> collections.Counter:
    """Samples per generated line ("NNN text") or, without line information, function."""
    out = collections.Counter()
    for path in sorted({p for p, _ in hits}):
        offsets = sorted(o for p, o in hits if p == path)
        answer = subprocess.run(["addr2line", "-f", "-e", path] + [f"{o:x}" for o in offsets],
                                capture_output=True, text=True).stdout.splitlines()
        for k, offset in enumerate(offsets):
            function, where = answer[2 * k], answer[2 * k + 1].split(" ")[0]
            file, _, number = where.rpartition(":")
            if file.endswith("kernel_copy.py") and number.isdigit():
                key = int(number)
            else:
                key = f"(no line) {function[:70]}"
            out[key] += hits[path, offset]
    return out


def top_level(number: int, lines: list[str]) -> int:
    """The line of the statement at the function body's level (4 spaces) enclosing `number`."""
    k = number - 1
    while k > 0 and not (lines[k].startswith("    ") and not lines[k].startswith("     ")
                         and lines[k].strip() and not lines[k].lstrip().startswith(
                             ("else", "elif", "pass", "raise", "return", "#"))):
        k -= 1
    return k + 1


def report(counts: collections.Counter, total: int, lines: list[str], shown: int) -> None:
    def text(key):
        return f"{key:6d}  {lines[key - 1].strip()[:100]}" if isinstance(key, int) else key
    print(f"{total} samples; {sum(counts.values())} in the kernel's code\n\nhottest lines:")
    for key, n in counts.most_common(shown):
        print(f"{100 * n / total:5.1f}%  {text(key)}")
    regions = collections.Counter()
    for key, n in counts.items():
        regions[top_level(key, lines) if isinstance(key, int) else key] += n
    print("\nby top-level statement:")
    for key, n in regions.most_common(shown):
        print(f"{100 * n / total:5.1f}%  {text(key)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kernel", help="a generated module, k*.py")
    parser.add_argument("entry", help="the function of it to run")
    parser.add_argument("setup", help="a Python file defining arguments()")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--lines", type=int, default=25, help="rows of each list")
    options = parser.parse_args(argv)
    spec = importlib.util.spec_from_file_location("setup", options.setup)
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    args = tuple(setup.arguments())
    with tempfile.TemporaryDirectory() as work:
        module, copy = compiled_copy(options.kernel, work)
        entry = getattr(module, options.entry)
        entry(*args)  # compile
        ranges = code_ranges(work)
        ips = sample(entry, args, options.seconds, work)
        lines = open(copy).read().splitlines()
        report(by_line(locate(ips, ranges), lines), len(ips), lines, options.lines)


if __name__ == "__main__":
    sys.exit(main())
