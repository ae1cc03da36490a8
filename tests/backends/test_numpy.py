"""The numpy backend through the runner: checked against the reference, timed, threads recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import threadpoolctl

from bench.backends.base import Case, Prepared
from bench.backends.numpy_backend import NumpyBackend, blas_info
from bench.core import workloads
from bench.core.config import Planned
from bench.core.policy import Policy
from bench.core.records import CaseResult
from bench.runner.local import matched_inputs, run_case

SHORT = Policy(warmup_s=0.005, min_samples=5, min_time_s=0.02, max_time_s=2.0)
TINY_LM = Path(__file__).resolve().parents[2] / "configs" / "models" / "tiny_lm.onnx"


def run(
    backend: Any, workload: str, params: dict[str, Any], scenario: str = "latency", sets: int = 1
) -> CaseResult:
    spec = workloads.get(workload)
    p = Planned(spec, spec.resolve(params), backend.name, backend.options, scenario)
    try:
        return run_case(backend, p, matched_inputs(p, seed=0, count=sets), SHORT)
    finally:
        backend.close()


def test_gemm_is_checked_timed_and_rated() -> None:
    r = run(NumpyBackend(), "gemm", {"m": 32, "n": 24, "k": 16})
    assert r.status == "ok", r.reason
    assert r.reason == ""
    assert r.case_id == "gemm[m=32,n=24,k=16,dtype=float32]@numpy/latency"
    assert r.tolerance == 1e-4
    assert r.rel_error is not None and 0 <= r.rel_error < 1e-6
    assert r.loops >= 1 and r.loops & (r.loops - 1) == 0
    assert len(r.sample_ns) >= 5 and all(ns > 0 for ns in r.sample_ns)
    assert r.warmup_calls >= 1
    assert r.stopped_by == "min_time"
    assert r.flops == 2 * 32 * 24 * 16
    assert r.bytes_moved == 4 * (32 * 16 + 16 * 24 + 32 * 24)
    assert r.stats is not None
    assert r.stats == r.recomputed_stats()
    assert r.gflops_per_s == pytest.approx(r.flops / r.stats.median_s / 1e9, rel=1e-12)
    assert r.gb_per_s == pytest.approx(r.bytes_moved / r.stats.median_s / 1e9, rel=1e-12)
    assert r.intensity_flop_per_byte == pytest.approx(r.flops / r.bytes_moved)
    assert r.throughput_per_s == pytest.approx(1 / r.stats.median_s)


@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", 1e-10), ("float16", 3e-2)])
def test_gemm_tolerance_follows_the_output_dtype(dtype: str, tolerance: float) -> None:
    r = run(NumpyBackend(), "gemm", {"m": 8, "n": 8, "k": 8, "dtype": dtype})
    assert r.status == "ok", r.reason
    assert r.tolerance == tolerance
    assert r.rel_error is not None and r.rel_error <= tolerance


def test_triad_reports_bandwidth_and_rotates_input_sets() -> None:
    r = run(NumpyBackend(), "triad", {"n": 4096}, sets=3)
    assert r.status == "ok", r.reason
    assert r.input_sets == 3
    assert r.gb_per_s == pytest.approx(r.bytes_moved / r.stats.median_s / 1e9, rel=1e-12)  # type: ignore[operator,union-attr]


def test_threads_option_is_applied_and_recorded() -> None:
    before = [b["num_threads"] for b in blas_info()]
    backend = NumpyBackend({"threads": 1})
    spec = workloads.get("gemm")
    p = Planned(
        spec, spec.resolve({"m": 16, "n": 16, "k": 16}), "numpy", backend.options, "latency"
    )
    try:
        r = run_case(backend, p, matched_inputs(p, 0, 1), SHORT)
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    finally:
        backend.close()
    assert r.status == "ok", r.reason
    assert r.options == {"threads": 1}
    assert r.threads["blas"] and set(r.threads["blas"]) == {1}
    assert {i["num_threads"] for i in blas} == {1}  # in force while the backend was open
    assert [b["num_threads"] for b in blas_info()] == before  # and restored on close


def test_default_threads_are_recorded_as_the_library_has_them() -> None:
    r = run(NumpyBackend(), "gemm", {"m": 8, "n": 8, "k": 8})
    assert r.options == {"threads": 0}
    assert r.threads["blas"] == [b["num_threads"] for b in blas_info()]


class WrongNumpyBackend(NumpyBackend):
    """Correct calls, wrong answers: every output is off by one."""

    name: ClassVar[str] = "numpy"

    def prepare(self, case: Case) -> Prepared:
        good = super().prepare(case)
        return Prepared(run=good.run, to_host=lambda out: np.asarray(out) + 1.0)


class NanNumpyBackend(NumpyBackend):
    name: ClassVar[str] = "numpy"

    def prepare(self, case: Case) -> Prepared:
        good = super().prepare(case)
        return Prepared(run=good.run, to_host=lambda out: np.asarray(out) * np.nan)


def test_a_wrong_result_is_a_failed_case_not_a_fast_one() -> None:
    r = run(WrongNumpyBackend(), "gemm", {"m": 16, "n": 16, "k": 16})
    assert r.status == "failed"
    assert "relative error" in r.reason
    assert "exceeds the float32 tolerance" in r.reason
    assert r.sample_ns == () and r.stats is None and r.loops == 0
    assert r.gflops_per_s is None


def test_nan_never_passes() -> None:
    r = run(NanNumpyBackend(), "triad", {"n": 64})
    assert r.status == "failed"
    assert "relative error inf" in r.reason


class CrashingNumpyBackend(NumpyBackend):
    """A backend bug inside the call: the case fails with the exception's type and text."""

    name: ClassVar[str] = "numpy"

    def prepare(self, case: Case) -> Prepared:
        def crash() -> None:
            raise RuntimeError("kernel exploded")

        return Prepared(run=crash, to_host=lambda out: out)


def test_a_crashing_call_is_a_failed_case_with_its_reason() -> None:
    r = run(CrashingNumpyBackend(), "gemm", {"m": 4, "n": 4, "k": 4})
    assert r.status == "failed"
    assert r.reason == "RuntimeError in the checked call: kernel exploded"


class LaterCrashingNumpyBackend(NumpyBackend):
    """Right on the checked call, then a failure while being timed (a device lost mid-run)."""

    name: ClassVar[str] = "numpy"

    def prepare(self, case: Case) -> Prepared:
        good = super().prepare(case)
        calls = iter(range(1_000_000))

        def flaky() -> Any:
            if next(calls) == 3:
                raise OSError("device lost")
            return good.run()

        return Prepared(run=flaky, to_host=good.to_host)


def test_a_call_failing_while_timed_is_a_failed_case() -> None:
    r = run(LaterCrashingNumpyBackend(), "gemm", {"m": 4, "n": 4, "k": 4})
    assert (r.status, r.reason) == ("failed", "OSError in a timed call: device lost")
    assert r.sample_ns == ()


class BrokenPrepareBackend(NumpyBackend):
    name: ClassVar[str] = "numpy"

    def prepare(self, case: Case) -> Prepared:
        raise KeyError("no such engine")


def test_a_prepare_failure_is_a_failed_case() -> None:
    r = run(BrokenPrepareBackend(), "gemm", {"m": 4, "n": 4, "k": 4})
    assert (r.status, r.reason) == ("failed", "KeyError in prepare: 'no such engine'")


def test_a_harness_bug_is_a_crash_not_a_failed_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in the harness's own code (here the comparison) must surface with its
    traceback: recording it as a failed case would blame the backend."""
    from bench.runner import local

    def broken(outputs: Any, reference: Any) -> float:
        raise TypeError("harness bug")

    monkeypatch.setattr(local.workloads, "relative_error", broken)
    with pytest.raises(TypeError, match="harness bug"):
        run(NumpyBackend(), "gemm", {"m": 4, "n": 4, "k": 4})


def test_onnx_workload_is_unsupported_on_numpy() -> None:
    r = run(NumpyBackend(), "onnx", {"model": str(TINY_LM), "batch": 1, "seq": 4})
    assert r.status == "unsupported"
    assert r.reason == "workload 'onnx' has no array implementation for numpy"
    assert r.sample_ns == ()


def test_throughput_scenario_runs_on_a_synchronous_backend() -> None:
    r = run(NumpyBackend(), "softmax", {"rows": 4, "cols": 16}, scenario="throughput")
    assert r.status == "ok", r.reason
    assert r.scenario == "throughput"
    assert r.case_id.endswith("@numpy/throughput")
