"""pytest-benchmark JSON: export, import, round trip, its own compare-fail rule and reader."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from pytest_benchmark.stats import Stats

from bench.core import store
from bench.core.errors import ConfigError
from bench.core.records import CaseResult, RunConfig, RunRecord
from bench.core.stats import summarize
from bench.gate import interop

FP = {
    "cpu": {"model": "Test CPU 9000", "arch": "x86_64", "logical_cores": 2},
    "os": "Linux 6.1",
    "python": "3.11.7",
    "python_implementation": "CPython",
    "hostname": "ci-1",
    "git_commit": "0123abcd+dirty",
    "versions": {"numpy": "2.4.6"},
}


def _case(case_id: str, loops: int, samples: tuple[int, ...], status: str = "ok") -> CaseResult:
    per_call = [s / loops / 1e9 for s in samples]
    return CaseResult(
        case_id=case_id,
        workload="gemm",
        params={"m": 64, "n": 64, "k": 64, "dtype": "float32"},
        backend="numpy",
        options={"threads": 1},
        scenario="latency",
        status=status,  # type: ignore[arg-type]
        reason="" if status == "ok" else "boom",
        rel_error=1e-7,
        tolerance=1e-4,
        loops=loops,
        sample_ns=samples,
        stats=summarize(per_call) if samples else None,
    )


def _record() -> RunRecord:
    rng = np.random.default_rng(0)
    samples = tuple(int(v) for v in rng.integers(900_000, 1_100_000, 40))
    cases = (
        _case("gemm[m=64]@numpy/latency", 16, samples),
        _case("gemm[m=64]@onnxruntime/latency", 8, samples[:20]),
        _case("gemm[m=64]@null/latency", 0, (), status="failed"),
    )
    return RunRecord(
        "run-1",
        "2026-11-21T10:00:00+00:00",
        RunConfig("run"),
        FP,
        {"numpy": {"version": "2.4.6"}},
        cases,
    )


def test_export_has_pytest_benchmarks_keys_and_its_statistics():
    doc = interop.export_run(_record())
    assert set(interop.TOP_KEYS) <= set(doc)
    assert doc["commit_info"] == {
        "id": "0123abcd",
        "dirty": True,
        "project": "accelbench",
        "branch": None,
    }
    assert doc["machine_info"]["cpu"]["brand_raw"] == "Test CPU 9000"
    assert len(doc["benchmarks"]) == 2  # the failed case is left out, as pytest-benchmark does
    assert doc["machine_info"]["accelbench"]["not_measured"][0]["reason"] == "boom"
    bench = doc["benchmarks"][0]
    keys = {"group", "name", "fullname", "params", "param", "extra_info", "options", "stats"}
    assert keys <= set(bench)
    per_call = [s / 16 / 1e9 for s in _record().cases[0].sample_ns]
    theirs = Stats()
    for v in per_call:
        theirs.update(v)
    for field in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "ops", "rounds"):
        assert bench["stats"][field] == pytest.approx(getattr(theirs, field))
    assert bench["stats"]["iterations"] == 16 and bench["stats"]["data"] == per_call
    assert bench["extra_info"]["accelbench"]["backend"] == "numpy"
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_round_trip_keeps_raw_samples_loops_and_fingerprint():
    record = _record()
    back = interop.import_run(json.loads(json.dumps(interop.export_run(record))), "x.json")
    assert back.run_id == "run-1" and back.fingerprint == FP
    assert back.backends == {"numpy": {"version": "2.4.6"}}
    ok = [c for c in record.cases if c.status == "ok"]
    assert [c.case_id for c in back.cases] == [c.case_id for c in ok]
    for a, b in zip(ok, back.cases, strict=True):
        assert (b.loops, b.sample_ns, b.backend, b.options) == (
            a.loops,
            a.sample_ns,
            a.backend,
            a.options,
        )
        assert dict(b.params) == dict(a.params)
        assert b.stats is not None and b.stats.median_s == pytest.approx(a.stats.median_s)


def test_import_of_a_plain_pytest_benchmark_file():
    doc = {
        "machine_info": {
            "node": "laptop",
            "processor": "x86_64",
            "machine": "x86_64",
            "python_implementation": "CPython",
            "python_version": "3.12.1",
            "release": "6.5.0",
            "system": "Linux",
            "cpu": {"brand_raw": "Some CPU", "arch_string_raw": "x86_64", "count": 8},
        },
        "commit_info": {"id": "feed", "dirty": False, "project": "p", "branch": "main"},
        "benchmarks": [
            {
                "group": None,
                "name": "test_sum",
                "fullname": "tests/test_x.py::test_sum",
                "params": None,
                "param": None,
                "extra_info": {},
                "options": {},
                "stats": {
                    "min": 1e-6,
                    "median": 2e-6,
                    "iterations": 10,
                    "data": [1e-6, 2e-6, 3e-6],
                },
            },
            {
                "name": "test_nodata",
                "fullname": "tests/test_x.py::test_nodata",
                "stats": {"median": 2e-6, "iterations": 1},
            },
        ],
        "datetime": "2026-11-21T10:00:00",
        "version": "5.2.3",
    }
    run = interop.import_run(doc, "base.json")
    first, second = run.cases
    assert first.case_id == "tests/test_x.py::test_sum" and first.loops == 10
    assert first.sample_ns == (10_000, 20_000, 30_000)
    assert first.backend == "pytest-benchmark"
    assert second.sample_ns == () and "no raw data" in second.reason
    assert run.fingerprint["cpu"]["model"] == "Some CPU" and run.fingerprint["git_commit"] == "feed"
    assert run.fingerprint["os"] == "Linux 6.5.0"


def test_load_any_tells_the_formats_apart(tmp_path):
    record = _record()
    ours = store.save(record, tmp_path / "run.json")
    theirs = interop.write_json(interop.export_run(record), tmp_path / "pb.json")
    assert interop.load_any(ours).cases == record.cases
    assert len(interop.load_any(theirs).cases) == 2
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="neither an accelbench results file"):
        interop.load_any(tmp_path / "other.json")
    with pytest.raises(ConfigError, match="no such results file"):
        interop.load_any(tmp_path / "missing.json")


def test_compare_fail_is_pytest_benchmarks_own_rule():
    assert interop.compare_fail("mean:5%", [1.0, 1.0], [1.051, 1.051]) is True
    assert interop.compare_fail("mean:5%", [1.0, 1.0], [1.049, 1.049]) is False
    # the mean follows one outlier: the A/A failure mode of this rule on a noisy machine
    assert interop.compare_fail("mean:5%", [1.0] * 10, [1.0] * 9 + [1.6]) is True
    with pytest.raises(ConfigError):
        interop.compare_fail("average:5", [1.0], [1.0])


def test_pytest_benchmark_compare_reads_the_export(tmp_path):
    path = interop.write_json(interop.export_run(_record()), tmp_path / "0001_export.json")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(path), "--columns=min,median"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gemm[m=64]@numpy/latency" in proc.stdout
