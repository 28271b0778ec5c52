"""The CPU report: benchmarks/RESULTS.md from the measurements (`run.py --place cpu`), and
the targets of the brief with the measured number next to each."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cases import ORDER
from timing import BUSY, SPREAD

HERE = Path(__file__).resolve().parent
GAPS = HERE / "RESULTS-gaps.md"


def fmt(value, spec=".2f", missing="—"):
    return missing if value is None else format(value, spec)


def power_of_two(n: int) -> str:
    return f" (2^{n.bit_length() - 1})" if n & (n - 1) == 0 else ""


def fmt_load(load) -> str:
    return "/".join(f"{v:.2f}" for v in load)


def targets(results: dict) -> tuple[list[str], list[str]]:
    """(met, missed): each target of the brief, with the measured numbers."""
    rows, met, missed = results["rows"], [], []

    def verdict(ok, text):
        (met if ok else missed).append(text)

    for r in rows.values():
        ms, name = r["ms"], r["name"]
        if r["skipped"].get("cupar"):
            missed.append(f"{name}: no cupar measurement ({r['skipped']['cupar']})")
            continue
        for label, problem in r["fail"].items():
            missed.append(f"{name}: {label} FAILED its check ({problem})")
        if "cupar" not in ms:
            continue
        if "numba" in ms:
            q = r["cupar_over_numba"]
            verdict(q <= 1.1, f"{name}: cupar/numba {q:.2f} (target <= 1.10)")
        if name.startswith("sort"):
            q = ms["cupar"] / ms["numpy"]
            verdict(q <= 1.1, f"{name}: cupar/np.sort {q:.2f} (target <= 1.10)")
        elif name == "black_scholes":
            q = r["numpy_over_cupar"]
            verdict(q >= 6, f"{name}: {q:.1f}x NumPy (target >= 6x)")
        elif name == "mandelbrot":
            q = r["numpy_over_cupar"]
            verdict(q >= 10, f"{name}: {q:.1f}x NumPy (target >= 10x)")
        else:
            q = r["numpy_over_cupar"]
            verdict(q > 1, f"{name}: {q:.2f}x NumPy (target > 1x)")
        if name in ("saxpy_reused", "sum", "dot", "nrm2"):
            verdict(r["triad_fraction"] >= 0.8,
                    f"{name}: {r['triad_fraction']:.2f} of triad bandwidth (target >= 0.8)")
        if name in ("scan", "scan_reused"):
            verdict(r["triad_fraction"] >= 0.4,
                    f"{name}: {r['triad_fraction']:.2f} of triad bandwidth (target >= 0.4)")
        if name == "spmv":
            if "scipy" in ms:
                q = r["scipy_over_cupar"]
                verdict(q >= 1.5, f"{name}: {q:.2f}x scipy (target >= 1.5x)")
            else:
                missed.append(f"{name}: scipy not installed, the 1.5x-scipy target is unmeasured")
    st = results.get("startup")
    if st:
        verdict(st["cold_first_call_s"] <= 1.5,
                f"cold compile of axpy: {st['cold_first_call_s']:.2f} s (target <= 1.5 s)")
        if "warm_no_scipy_first_call_s" in st:  # cupar's own environment has no scipy
            verdict(st["warm_no_scipy_first_call_s"] <= 0.3,
                    f"warm-cache first call: {st['warm_no_scipy_first_call_s']:.3f} s without "
                    f"scipy, {st['warm_first_call_s']:.3f} s with it (target <= 0.3 s)")
        else:
            verdict(st["warm_first_call_s"] <= 0.3,
                    f"warm-cache first call: {st['warm_first_call_s']:.3f} s (target <= 0.3 s)")
    return met, missed


def table(results: dict) -> list[str]:
    out = [
        "",
        "| benchmark | numpy ms | numba ms | cupar ms | cupar/numba | numpy/cupar | GB/s "
        "| fraction of triad |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ORDER:
        r = results["rows"].get(name)
        if r is None:
            continue
        ms = r["ms"]

        def cell(label):
            v = ms.get(label)
            text = fmt(v)
            if label in r["fail"]:
                text += " FAIL"
            if label in r["skipped"]:
                text = "skipped"
            return text
        gbs = fmt(r.get("gb_s"), ".1f")
        frac = fmt(r.get("triad_fraction"), ".2f")
        if r.get("gb_s_of") == "numba":
            gbs, frac = gbs + " (numba)", frac + " (numba)"
        out.append(f"| {name} ({r['what']}) | {cell('numpy')} | {cell('numba')} | "
                   f"{cell('cupar')} | {fmt(r.get('cupar_over_numba'))} | "
                   f"{fmt(r.get('numpy_over_cupar'))} | {gbs} | {frac} |")
    out.append("")
    out.append("GB/s and the fraction of triad bandwidth are cupar's (Numba's where marked). "
               "GB/s counts the bytes each kernel must move at least: saxpy 3 arrays; sum and "
               "nrm2 1; dot 2; scan 2; gather and scatter 3 (int32 indices); filter the input "
               "plus the kept elements; SpMV values, column indices, offsets, x once and y; "
               "softmax the matrix in and out; column sums the matrix. Black-Scholes, sort and "
               "Mandelbrot are not "
               "memory-bound and have no GB/s. The NumPy baselines are: `a*x + y`, `np.sum`, "
               "`np.dot`, `np.linalg.norm`, `np.cumsum`, `x[idx]`, `out[idx] = x`, `x[x > 0]`, "
               "`np.sort`, `np.add.reduceat` over the CSR rows, the usual max/exp/sum softmax, "
               "`m.sum(axis=0)`, `np.add.at` on a copy for the histograms (reduce_by_index), "
               "and a vectorised Mandelbrot iterating every pixel `limit` times. The Numba sort "
               "is `np.sort` inside `@njit`; its column sums add row slices of 256 columns, "
               "a block of columns per parallel iteration. The hand-written Numba "
               "Black-Scholes and softmax "
               "call the C library's `expf`/`logf` per element (this llvmlite has no SVML), "
               "which keeps LLVM from vectorising them; cupar inlines its own float32 `exp` "
               "and `log` (within 1 ulp), so its loops vectorise. saxpy_reused and "
               "scan_reused are cupar's `saxpy(a, x, y, out=buf)` and `cumsum(x, out=buf)` "
               "(NumPy's `out=`, Numba's kernel given the buffer). A fresh 64 MB array costs "
               "about 3 ms of page faults on first touch (the kernel zeroes its pages) with "
               "huge pages, as NumPy's arrays ask for (`madvise`), and about 17 ms with the "
               "4 KiB pages that `np.empty` inside `@njit` gets: this, not the loops, is why "
               "the hand-written Numba saxpy and scan with a new output are slow here. "
               "cupar's large results reuse the memory of dead ones (`cupar/runtime/cpu/pool.py`; "
               "in these loops the previous result dies at each call), so its allocating rows "
               "are close to its `out=` rows.")
    extra = []
    for name in ORDER:
        r = results["rows"].get(name)
        if r and "scipy" in r["ms"]:
            extra.append(f"{name}: scipy `csr_matrix @ x` {r['ms']['scipy']:.2f} ms, "
                         f"scipy/cupar {fmt(r.get('scipy_over_cupar'))}")
        if r and "bincount" in r["ms"] and "cupar" in r["ms"]:
            extra.append(f"{name}: `dest + np.bincount(idx, values, bins)` "
                         f"{r['ms']['bincount']:.2f} ms, bincount/cupar "
                         f"{r['ms']['bincount'] / r['ms']['cupar']:.2f}")
        for label, reason in (r or {}).get("skipped", {}).items():
            extra.append(f"{name}: {label} skipped — {reason}")
        for note in (r or {}).get("notes", []):
            extra.append(f"{name}: {note}")
        for label, problem in (r or {}).get("fail", {}).items():
            extra.append(f"{name}: **FAIL** {label}: {problem}")
        for label, t in (r or {}).get("times", {}).items():
            runs = t["runs_s"]
            if len(runs) > 1 and max(runs) > SPREAD * min(runs):
                extra.append(f"{name}: {label}'s runs ranged from {min(runs) * 1e3:.1f} to "
                             f"{max(runs) * 1e3:.1f} ms")
        if r and (r.get("other_load") or 0) > BUSY:
            extra.append(f"{name}: timed while other processes used "
                         f"{r['other_load']:.0%} of the machine's CPU time")
    if extra:
        out += ["", *(f"* {e}" for e in extra)]
    return out


def markdown(results: dict) -> str:
    meta = results["meta"]
    tri = results["triad"]
    out = [
        "# cupar benchmarks",
        "",
        f"Generated by `python benchmarks/run.py` on {meta['date']} "
        f"({meta['machine']}) at commit {meta.get('commit') or 'unknown'}. "
        f"N = {meta['n']:,}{power_of_two(meta['n'])} float32 "
        f"elements; Numba {meta['numba']} with {meta['threads']} threads; NumPy "
        f"{meta['numpy']}; scipy {meta['scipy'] or 'not installed'}; Python {meta['python']}.",
        f"Times are medians of {meta['repeat']} runs after a warm-up, the implementations "
        "taking turns run by run, each short run preceded by an untimed one of its own. "
        "The machine is shared, so expect noise of 10% or more "
        f"(1/5/15-minute load averages {fmt_load(meta['load_before'])} at the start, "
        f"{fmt_load(meta['load_after'])} at the end).",
        "",
        f"Memory bandwidth (Numba parallel triad `a*x+y` into a reused buffer, "
        f"{tri['bytes'] / 1e6:.0f} MB per run): **{tri['gb_s']:.1f} GB/s** "
        f"({tri['median_s'] * 1e3:.2f} ms), the higher of two medians measured at the start "
        f"({tri.get('start_gb_s', tri['gb_s']):.1f} GB/s) and at the end "
        f"({tri['end']['gb_s']:.1f} GB/s) of the run. Other processes used "
        f"{fmt(tri.get('other_load'), '.0%', '?')} and "
        f"{fmt(tri['end'].get('other_load'), '.0%', '?')} of the machine's CPU time during "
        "these two measurements.",
    ]
    if results["rows"]:
        out += table(results)
    st = results.get("startup")
    if st:
        cold = ", ".join(f"{c['first_call_s']:.2f}" for c in st["cold"])
        warm = ", ".join(f"{w['first_call_s']:.3f}" for w in st["warm"])
        total = ", ".join(f"{w['total_s']:.2f}" for w in st["warm"])
        out += [
            "",
            "## Compile and cache",
            "",
            f"axpy (`benchmarks/programs.py: saxpy`) on 2^20 float32 elements, in fresh "
            f"subprocesses, medians of {len(st['cold'])} pairs (individual runs in brackets):",
            "",
            f"* cold (empty `CUPAR_CACHE_DIR`), first call from before the call to after: "
            f"**{st['cold_first_call_s']:.2f} s** [{cold}]",
            f"* warm (second process, same cache directory), first call: "
            f"**{st['warm_first_call_s']:.3f} s** [{warm}]",
            *([f"* warm, in a process where `import scipy` fails, as in the environment "
               f"`make install` builds (cupar does not depend on scipy): "
               f"**{st['warm_no_scipy_first_call_s']:.3f} s** ["
               + ", ".join(f"{w['first_call_s']:.3f}" for w in st["warm_no_scipy"]) + "]. "
               "The difference is Numba's: where scipy is installed (here, for the SpMV "
               "comparison), loading any compiled function runs Numba's BLAS probe, which "
               "imports `scipy.linalg`"] if "warm_no_scipy" in st else []),
            f"* warm, from before `import cupar` to after the first call: "
            f"**{st['warm_total_s']:.2f} s** [{total}] (of which `import cupar` "
            f"{st['warm_import_s']:.2f} s)",
        ]
        if not any(r.get("numba_loaded_before_call") for r in st["cold"] + st["warm"]):
            out.append("* `import cupar` does not load Numba: both first calls include "
                       "importing it; `import numba` alone, in a separate fresh process, "
                       f"takes {st['import_numba_s']:.2f} s")
    out += dispatch(results.get("dispatch"))
    if GAPS.exists():  # benchmarks/cpu_gaps.py's table, measured apart
        out += ["", GAPS.read_text().rstrip()]
    met, missed = targets(results)
    out += ["", "## Targets", "",
            f"{len(met)} of {len(met) + len(missed)} checks against the targets pass. Each line "
            "gives the measured number and the target; nothing here says why a row misses.",
            ""]
    if missed:
        out.append("Missed:")
        out.append("")
        out += [f"* {m}" for m in missed]
        out.append("")
    if met:
        out.append("Met:")
        out.append("")
        out += [f"* {m}" for m in met]
    return "\n".join(out) + "\n"


def dispatch(d: dict | None) -> list[str]:
    if not d:
        return []
    shown = "; ".join(f"{label} **{us:.2f} µs**" for label, us in d["us"].items())
    return ["", "## Dispatch", "",
            f"A cached call of axpy on {d['n']:,} float32 elements (serial code at this size), "
            f"per call, medians of batches of {d['calls']:,} calls: {shown}. The overhead is "
            "cupar's call minus a direct call of the Numba dispatcher of the function cupar "
            "generated for it (argument types, place, flattening and rebuilding the result)."]


def git_commit() -> str | None:
    """The checkout's commit, marked "+changes" when cupar/ differs from it."""
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True,
                                  text=True, timeout=30, check=True).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD")
        return commit + (" +changes in cupar/" if git("status", "--porcelain", "cupar") else "")
    except (OSError, subprocess.SubprocessError):
        return None
