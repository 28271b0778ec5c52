"""The benchmark cases at a small size: every case has its cupar program, and that program's
result at `cpu` passes the case's own check (so `benchmarks/run.py` cannot rot unnoticed)."""

import sys
from pathlib import Path

import pytest

import cupar

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import cases  # noqa: E402


@pytest.mark.parametrize("name", cases.ORDER)
def test_benchmark_case_runs_and_passes_its_check(name):
    case = cases.make_case(name, 4096)
    assert case.program is not None, f"{name} has no cupar program"
    result = case.program(*case.program_args(), target_place=cupar.places.cpu,
                          **case.program_keywords())
    assert case.check(result) is None


@pytest.mark.parametrize("name", ["black_scholes", "mlp"])
def test_gradient_benchmark_case_passes_its_check(name):
    import grad_cases
    case = grad_cases.CASES[name](4096)
    assert case["check"]() == []
    for impl in case["impls"].values():
        impl()
