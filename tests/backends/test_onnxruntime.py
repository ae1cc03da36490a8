"""The onnxruntime backend (CPU provider) through the runner: graphs, threads, the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.backends.onnxruntime_backend import OnnxRuntimeBackend
from bench.core import workloads
from bench.core.config import Planned
from bench.core.errors import ConfigError
from bench.core.policy import Policy
from bench.core.records import CaseResult
from bench.runner.local import matched_inputs, run_case

SHORT = Policy(warmup_s=0.005, min_samples=5, min_time_s=0.02, max_time_s=2.0)
TINY_LM = Path(__file__).resolve().parents[2] / "configs" / "models" / "tiny_lm.onnx"


def run(
    backend: OnnxRuntimeBackend, workload: str, params: dict[str, Any], sets: int = 1
) -> CaseResult:
    spec = workloads.get(workload)
    p = Planned(spec, spec.resolve(params), backend.name, backend.options, "latency")
    try:
        return run_case(backend, p, matched_inputs(p, seed=0, count=sets), SHORT)
    finally:
        backend.close()


def test_gemm_is_checked_timed_and_rated() -> None:
    r = run(OnnxRuntimeBackend(), "gemm", {"m": 32, "n": 24, "k": 16})
    assert r.status == "ok", r.reason
    assert r.case_id == "gemm[m=32,n=24,k=16,dtype=float32]@onnxruntime/latency"
    assert r.rel_error is not None and r.rel_error < 1e-6
    assert r.tolerance == 1e-4
    assert r.loops >= 1 and r.loops & (r.loops - 1) == 0
    assert len(r.sample_ns) >= 5
    assert r.stats is not None and r.stats == r.recomputed_stats()
    assert r.flops == 2 * 32 * 24 * 16
    assert r.gflops_per_s == pytest.approx(r.flops / r.stats.median_s / 1e9, rel=1e-12)
    assert r.details["providers"] == ["CPUExecutionProvider"]


def test_thread_options_are_applied_and_recorded() -> None:
    backend = OnnxRuntimeBackend({"intra_op_threads": 1, "inter_op_threads": 1})
    r = run(backend, "gemm", {"m": 16, "n": 16, "k": 16})
    assert r.status == "ok", r.reason
    assert r.threads == {"intra_op": 1, "inter_op": 1}
    assert r.options["intra_op_threads"] == 1
    assert r.options["graph_optimization"] == "all"


def test_default_threads_are_recorded_as_ort_defaults() -> None:
    r = run(OnnxRuntimeBackend(), "gemm", {"m": 8, "n": 8, "k": 8})
    assert r.threads == {"intra_op": 0, "inter_op": 0}


@pytest.mark.parametrize("level", ["disable", "basic"])
def test_graph_optimization_levels_still_give_the_right_answer(level: str) -> None:
    r = run(OnnxRuntimeBackend({"graph_optimization": level}), "softmax", {"rows": 4, "cols": 8})
    assert r.status == "ok", r.reason
    assert r.options["graph_optimization"] == level


def test_rotating_input_sets_all_check_out() -> None:
    r = run(OnnxRuntimeBackend(), "triad", {"n": 4096}, sets=3)
    assert r.status == "ok", r.reason
    assert r.input_sets == 3
    assert r.gb_per_s is not None and r.gb_per_s > 0


def test_tiny_language_model_runs() -> None:
    r = run(OnnxRuntimeBackend(), "onnx", {"model": str(TINY_LM), "batch": 1, "seq": 8})
    assert r.status == "ok", r.reason
    assert r.rel_error is not None and r.rel_error <= 1e-4
    assert r.params["model"] == str(TINY_LM)
    assert (r.params["batch"], r.params["seq"]) == (1, 8)
    assert r.flops is not None and r.flops > 0
    assert len(r.sample_ns) >= 5


def test_unknown_provider_probe_says_so() -> None:
    avail = OnnxRuntimeBackend({"providers": "NoSuchExecutionProvider"}).probe()
    assert avail.ok is False
    assert avail.reason.startswith("NoSuchExecutionProvider not in this onnxruntime build (has: ")
    assert "CPUExecutionProvider" in avail.reason


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"'intra_op_threads' = -1 is below its minimum 0"):
        OnnxRuntimeBackend({"intra_op_threads": -1})
    assert OnnxRuntimeBackend({"providers": " CPUExecutionProvider "}).providers == [
        "CPUExecutionProvider"
    ]
