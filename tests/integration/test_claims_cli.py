"""accelbench calibrate / claims / reach end to end, on a real run stored by LocalSession."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.claims import geo
from bench.claims import registry as claims
from bench.cli import main
from bench.core import fingerprint, records, store, workloads
from bench.core.config import Planned
from bench.runner.calibrate import QUICK_POLICY
from bench.runner.clock import perf_ns, wall_iso
from bench.runner.local import LocalSession

TINY = (
    ("gemm", {"m": 128, "n": 128, "k": 128, "dtype": "float32"}),
    ("triad", {"n": 1 << 16}),
    ("copy", {"n": 1 << 16}),
)


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    """A real run: three tiny cases measured on numpy and saved as `accelbench run` would."""
    out = tmp_path_factory.mktemp("results")
    planned = []
    for name, params in TINY:
        spec = workloads.get(name)
        planned.append(Planned(spec, spec.resolve(params), "numpy", {}, "latency"))
    record = records.RunRecord(
        "20260101T000000-tiny01",
        wall_iso(),
        records.RunConfig(kind="run", source="tests/tiny.toml", quick=True),
        fingerprint.collect(),
        {"numpy": {"version": "x", "device": "cpu"}},
    )
    session = LocalSession(QUICK_POLICY)
    for result in session.run(planned):
        record = record.with_case(result)
    session.close()
    record = record.finish(wall_iso(), "complete")
    assert [c.status for c in record.cases] == ["ok", "ok", "ok"]
    return store.save(record, store.run_path(out, record))


@pytest.fixture(scope="module")
def calibration(stored_run) -> Path:
    out = stored_run.parent
    result = CliRunner().invoke(
        main,
        ["calibrate", "--quick", "-b", "numpy", "--out", str(out), "--against", str(stored_run)],
    )
    assert result.exit_code == 0, result.output
    assert "measured ceilings" in result.output and "cases against the ceilings" in result.output
    (path,) = out.glob("calibration-*.json")
    return path


def test_calibration_record_holds_ceilings(calibration, stored_run):
    record = store.load(calibration)
    assert record.config.kind == "calibrate"
    # the command as typed, so it reproduces the calibration (paths included)
    typed = (
        f"accelbench calibrate --quick -b numpy --out {stored_run.parent} --against {stored_run}"
    )
    assert record.config.command == typed
    names = {(c.workload, c.params.get("dtype")) for c in record.cases if c.status == "ok"}
    assert {
        ("gemm", "float32"),
        ("gemm", "float64"),
        ("copy", "float32"),
        ("triad", "float32"),
    } <= names


def test_claims_table_from_a_real_stored_run(stored_run, calibration):
    args = ["claims", str(stored_run), "--calibration", str(calibration), "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = {r["id"]: r for r in report["rows"]}
    assert len(rows) == 13 + 1 + 39  # the reach claim gives a physics and a measured row
    reach = rows["groq-riyadh-latency"]
    assert reach["verdict"] in ("supported", "partly supported", "contradicted")
    assert reach["ratio"] > 0 and "route factor 1.5" in reach["evidence"]
    assert rows["groq-speed-inference"]["verdict"] == "not testable by measurement"
    assert rows["groqcloud-llama-3.1-8b-speed"]["command"].startswith("GROQ_API_KEY=")
    assert rows["groq-riyadh-funding"]["verdict"] == "not testable by measurement"
    # the run's three cases, each held to the calibrated roofline of numpy
    fractions = {f["case_id"].split("[")[0]: f for f in report["fractions"]}
    assert set(fractions) == {"gemm", "triad", "copy"}
    assert all(f["of_measured"] > 0 for f in fractions.values())
    assert fractions["copy"]["bound"] == "memory"
    assert {c["ceiling"]["kind"] for c in report["ceilings"]} == {"matrix", "memory"}
    assert report["runs"][0] == ["20260101T000000-tiny01", "accelbench run tests/tiny.toml --quick"]
    # a CPU calibration has float32/float64 GEMMs and a DRAM copy: only the H100 fleet's HBM
    # compares (off-chip with off-chip); no 16-bit peak meets a float32 GEMM
    assert [(q[0], q[1]["workload"]) for q in report["equivalences"]] == [
        ("oreus-grenoble-gpus", "memory bandwidth")
    ]
    assert (
        "groq-riyadh-lpus: fp16 peak not compared with float32, float64 GEMM"
        in (report["unmatched"])
    )


def test_claims_markdown_file_and_terminal(stored_run, calibration, tmp_path):
    out = tmp_path / "claims.md"
    args = ["claims", str(stored_run), "--calibration", str(calibration), "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Vendor claims against measurements")
    assert "| groq-riyadh-latency | 000_edee8b206248089c.txt |" in text
    assert "## decoder projection" in text and "## capacity projections" in text
    assert "| groq-riyadh-latency:measured | 000_edee8b206248089c.txt |" in text
    assert "reached up to route factor 1.93; beyond it 'at least 4 billion' does not hold" in text
    assert "« la possibilité d’atteindre une population de 4 milliards" in text
    result = CliRunner().invoke(
        main, ["claims", str(stored_run), "--calibration", str(calibration)]
    )
    assert result.exit_code == 0 and "claims in the articles" in result.output


def test_claims_json_carries_raw_values(stored_run):
    result = CliRunner().invoke(main, ["claims", str(stored_run), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)["rows"]}
    reach = rows["groq-riyadh-latency"]
    assert (reach["claimed_value"], reach["unit"], reach["evidence_type"]) == (
        4e9,
        "people",
        "physics",
    )
    assert reach["measured_value"] == pytest.approx(5.157e9, rel=1e-3)
    assert reach["flips"] == "holds for route factor <= 1.93 (round trip, no server time)"
    # at route factor 2.0, 3.83 billion do not support "at least 4 billion"
    result = CliRunner().invoke(main, ["claims", str(stored_run), "--json", "--route-factor", "2"])
    reach = {r["id"]: r for r in json.loads(result.output)["rows"]}["groq-riyadh-latency"]
    assert reach["verdict"] == "partly supported" and reach["ratio"] == pytest.approx(
        0.957, abs=1e-3
    )


def test_claims_picks_the_newest_files_and_validates(stored_run, calibration):
    result = CliRunner().invoke(
        main, ["claims", "--results-dir", str(stored_run.parent), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    runs = [r[0] for r in json.loads(result.output)["runs"]]
    assert runs == ["20260101T000000-tiny01", calibration.stem]
    result = CliRunner().invoke(main, ["claims", "--check"])
    assert result.exit_code == 0 and "13 claims, 39 figures" in result.output
    result = CliRunner().invoke(main, ["claims", "--gpu", "b200"])
    assert result.exit_code == 2 and "no device 'b200'" in result.output


def test_reach_command_matches_the_geometry():
    args = [
        "reach",
        "--site",
        "riyadh",
        "--budget-ms",
        "100",
        "--round-trip",
        "--route-factor",
        "1.5",
        "--json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (case,) = json.loads(result.output)["cases"]
    g = geo.from_geonames()
    site = geo.find_place(g, "Riyadh")
    expected = geo.reach(g, site, geo.LatencyBudget(100, True, 200, 1.5))
    assert case["reach"]["radius_km"] == pytest.approx(100 / 2 * 200 / 1.5)
    assert case["reach"]["population"] == pytest.approx(expected.population)
    assert case["ratio"] == pytest.approx(expected.population / 4e9)
    assert case["verdict"] == claims.verdict_for(expected.population / 4e9, claims.VerdictPolicy())


def test_reach_rejects_half_a_coordinate():
    result = CliRunner().invoke(main, ["reach", "--lat", "10"])
    assert result.exit_code == 2 and "--lat and --lon go together" in result.output


def test_copy_workload_is_a_real_copy():
    spec = workloads.get("copy")
    x = workloads.seeded_inputs(spec, spec.resolve({"n": 8}), 0)
    before = x["a"].copy()
    out = spec.compute(np, x, spec.resolve({"n": 8}))
    assert out is not x["b"] and (out == x["b"]).all() and not (before == x["b"]).all()
    assert spec.bytes_moved(spec.resolve({"n": 8})) == 2 * 8 * 4 and spec.flops({}) is None


def test_a_synthetic_endpoint_run_feeds_the_reach_server_time(tmp_path):
    """A real streaming run against the synthetic server, read by the remote adapter."""
    synthetic = pytest.importorskip("bench.remote.server")
    script = synthetic.Script(ttft_s=0.02, itl_s=0.001, tokens=16, queue_s=0.005, style="groq")
    with synthetic.running(script, clock=perf_ns) as server:
        config = tmp_path / "synthetic.toml"
        config.write_text(
            f"""
[run]
backends = ["synthetic"]
[backend_options.synthetic]
base_url = "http://127.0.0.1:{server.port}/v1"
model = "synthetic-1"
[[case]]
workload = "chat"
params = {{ input_tokens = 16, max_tokens = 16 }}
load = {{ scenario = "concurrency", concurrency = 1, requests = 6, warmup_requests = 1 }}
""",
            encoding="utf-8",
        )
        result = CliRunner().invoke(main, ["run", str(config), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (run,) = [p for p in tmp_path.glob("*.json")]
    result = CliRunner().invoke(main, ["claims", str(run), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = {r["id"]: r for r in report["rows"]}
    reach = rows["groq-riyadh-latency"]
    # the physics row is propagation only ...
    assert "server 0 ms (propagation only)" in reach["evidence"]
    assert "within 6,667 km" in reach["measured"] and reach["evidence_type"] == "physics"
    # ... the measured row waits for Groq (the synthetic server is not Groq's) and shows the
    # synthetic server's own queue + prompt time (20 ms) coming off the budget
    measured = rows["groq-riyadh-latency:measured"]
    assert measured["verdict"] == "not yet measured"
    assert "with 20 ms server time (synthetic server-side time, run" in measured["note"]
    cases = report["reach"]["cases"]
    served = [c for c in cases if c["server_origin"].startswith("synthetic server-side time")]
    assert len(served) == 6 and all(c["budget"]["server_ms"] == pytest.approx(20) for c in served)
    rt15 = next(
        c for c in served if c["budget"]["round_trip"] and c["budget"]["route_factor"] == 1.5
    )
    assert rt15["reach"]["radius_km"] == pytest.approx((100 - 20) / 2 * 200 / 1.5)
    # synthetic is no vendor: Groq's published speed stays unmeasured
    assert rows["groqcloud-llama-3.1-8b-speed"]["verdict"] == "not yet measured"
