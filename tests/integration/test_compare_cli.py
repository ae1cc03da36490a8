"""`accelbench compare` as a CI pipeline feeds it: the shipped suite's shape, history, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from bench.cli import main
from bench.core import store
from bench.core.records import CaseResult, RunConfig, RunRecord


def _case(cid: str, per_call_s: float, seed: int, status: str = "ok") -> CaseResult:
    rng = np.random.default_rng(seed)
    ok = status == "ok"
    samples = tuple(int(v) for v in 8e9 * per_call_s * rng.lognormal(0, 0.02, 80)) if ok else ()
    return CaseResult(
        cid, "gemm", {}, "numpy", {}, "latency", status,  # type: ignore[arg-type]
        reason="" if ok else "workload 'onnx' has no array implementation for numpy",
        loops=8 if ok else 0, sample_ns=samples,
    )  # fmt: skip


def _save(tmp_path: Path, name: str, cases: list[CaseResult], state: str = "complete") -> Path:
    fp = {"cpu": {"model": "Xeon"}}
    record = RunRecord(name, "2026-12-01", RunConfig("run"), fp, {}, tuple(cases), state=state)  # type: ignore[arg-type]
    return store.save(record, tmp_path / f"{name}.json")


def _suite(seed: int, factor: float = 1.0, drift: float = 0.0) -> list[CaseResult]:
    """The default suite's shape: measured cases and the expected unsupported onnx@numpy."""
    rng = np.random.default_rng(seed + 100)
    cases = [
        _case(f"k{i}@numpy/latency", 1e-3 * factor * np.exp(rng.normal(0, drift)), seed * 10 + i)
        for i in range(4)
    ]
    return [*cases, _case("onnx@numpy/latency", 0, 0, "unsupported")]


def _compare(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["compare", *args, "--format", "json"])
    return result.exit_code, json.loads(result.output) if result.output.startswith("{") else {}


def test_the_shipped_suites_shape_compared_with_itself_passes(tmp_path):
    a, b = _save(tmp_path, "a", _suite(1)), _save(tmp_path, "b", _suite(2))
    code, report = _compare(str(a), str(b))
    assert code == 0 and report["verdict"] == "PASS"
    assert [c["verdict"] for c in report["cases"]] == ["PASS"] * 4
    assert any("unsupported in both runs, skipped" in n for n in report["notes"])


def test_a_missing_case_or_an_interrupted_run_fails_unless_allowed(tmp_path):
    a = _save(tmp_path, "a", _suite(1))
    cut = _save(tmp_path, "cut", _suite(2)[:2], state="interrupted")
    code, report = _compare(str(a), str(cut))
    assert code == 2 and report["verdict"] == "ERROR"
    reasons = {c["case_id"]: c["reason"] for c in report["cases"] if c["verdict"] == "ERROR"}
    assert set(reasons) == {"k2@numpy/latency", "k3@numpy/latency", "run cut"}
    assert "missing from RESULTS" in reasons["k2@numpy/latency"]
    code, report = _compare(str(a), str(cut), "--allow-missing")
    assert code == 0 and report["verdict"] == "PASS"


def test_zero_timings_exit_2_naming_the_file_and_field(tmp_path):
    a = _save(tmp_path, "a", _suite(1))
    data = json.loads(a.read_text())
    data["cases"][0]["sample_ns"] = [0] * len(data["cases"][0]["sample_ns"])
    bad = tmp_path / "zero.json"
    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["compare", str(a), str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{bad}: cases[0] (k0@numpy/latency): sample_ns holds 0" in result.output


def test_several_base_runs_or_history_measure_the_drift(tmp_path):
    hist = tmp_path / "history"
    hist.mkdir()
    bases = [_save(hist, f"b{k}", _suite(k, drift=0.03)) for k in range(4)]
    new = _save(tmp_path, "new", _suite(9, factor=1.3, drift=0.03))
    code, report = _compare(*map(str, bases), str(new))
    assert code == 1 and report["verdict"] == "REGRESSION"
    assert any("measured over 4 BASE runs" in n for n in report["notes"])
    assert report["base"].startswith("b0 (+3 more)")
    code, via_history = _compare("--history", str(hist), str(new))
    assert code == 1 and via_history["cases"] == report["cases"]


def test_on_inconclusive_decides_the_exit_code(tmp_path):
    a = _save(tmp_path, "a", _suite(1))
    b = _save(tmp_path, "b", _suite(2, factor=1.05))  # at the tolerance: never decided
    code, report = _compare(str(a), str(b))
    assert code == 3 and report["verdict"] == "INCONCLUSIVE"
    assert _compare(str(a), str(b), "--on-inconclusive", "pass")[0] == 0
    result = CliRunner().invoke(main, ["compare", str(a), str(b), "--on-inconclusive", "warn"])
    assert result.exit_code == 0 and "warning: INCONCLUSIVE" in result.output


def test_gate_config_per_case_tolerances(tmp_path):
    a = _save(tmp_path, "a", _suite(1))
    b = _save(tmp_path, "b", _suite(2, factor=1.3))
    gate = tmp_path / "gate.toml"
    gate.write_text('[gate]\ntolerance = 0.05\n[gate.cases]\n"k0*" = 0.5\n', encoding="utf-8")
    code, report = _compare(str(a), str(b), "--gate-config", str(gate))
    verdicts = {c["case_id"]: c["verdict"] for c in report["cases"]}
    assert code == 1 and verdicts["k0@numpy/latency"] == "PASS"
    assert verdicts["k1@numpy/latency"] == "REGRESSION"
