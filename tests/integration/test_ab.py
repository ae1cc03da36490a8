"""`accelbench ab`, `compare`, `export` and `gate-eval` end to end (CliRunner, real backends)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.app import gate_eval
from bench.cli import main
from bench.core import config as configmod
from bench.core import store
from bench.core.errors import ConfigError
from bench.core.records import CaseResult, RunConfig, RunRecord, to_dict
from bench.gate import interop
from bench.gate.decide import GatePolicy, Verdict
from bench.runner import ab

SUITE = """
[run]
name = "ab-test"

[backend_options]
numpy = { threads = 1 }
onnxruntime = { intra_op_threads = 1, inter_op_threads = 1 }

[gate]
min_blocks = 6
max_blocks = 6

[ab]
sample_time_s = 0.004
warmup_s = 0.001

[[case]]
workload = "triad"
params = { n = 20000 }
backends = ["numpy"]
"""

GEMM = SUITE.replace(
    'workload = "triad"\nparams = { n = 20000 }',
    'workload = "gemm"\nparams = { m = 64, n = 64, k = 64 }',
)


def _write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ab(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["ab", *args, "--format", "json"])
    assert result.exit_code in (0, 1, 3), result.output
    return result.exit_code, json.loads(result.output)


def test_ab_detects_double_the_work(tmp_path):
    cfg = _write(tmp_path, SUITE)
    code, report = _ab(str(cfg), "--a-param", "n=20000", "--b-param", "n=40000")
    assert code == 1 and report["verdict"] == "REGRESSION" and report["blocks"] == 6
    (case,) = report["cases"]
    assert case["estimate"]["ratio"] > 1.3 and case["estimate"]["n"] == 6
    assert case["estimate"]["method"] == "Hodges-Lehmann, exact signed-rank interval"
    assert report["geomean"]["verdict"] == "REGRESSION"


def test_ab_reports_an_improvement_as_a_pass(tmp_path):
    cfg = _write(tmp_path, SUITE)
    code, report = _ab(str(cfg), "--a-param", "n=40000", "--b-param", "n=20000")
    assert code == 0 and report["cases"][0]["verdict"] == "IMPROVED"


def test_ab_two_backends_and_an_a_a_run(tmp_path):
    cfg = _write(tmp_path, GEMM)
    code, report = _ab(str(cfg), "--a-backend", "numpy", "--b-backend", "onnxruntime")
    assert report["exit_code"] == code
    assert report["base"].startswith("A (backend=numpy") and "onnxruntime" in report["new"]
    (case,) = report["cases"]
    assert case["case_id"].endswith("@numpy/latency") and case["estimate"]["n"] == 6
    # A/A with a wide tolerance: six block ratios all under 1.5x is certain, so PASS
    code, report = _ab(str(cfg), "--tolerance", "0.5", "--effect-floor", "0.05")
    assert code == 0 and report["verdict"] == "PASS"
    assert report["notes"] == ["A and B are the same configuration: an A/A run"]


CHILD = """
import json, pathlib, random, sys
args = [a for a in sys.argv[1:] if a != "--out"]
template, factor, out = args[0], float(args[1]), pathlib.Path(args[2])
if factor < 0:
    sys.exit("child broke before writing anything")
doc = json.loads(pathlib.Path(template).read_text())
rng = random.Random()
for case in doc["cases"]:
    case["sample_ns"] = [int(8e6 * factor * rng.uniform(0.99, 1.01)) for _ in range(20)]
(out / "run.json").write_text(json.dumps(doc))
"""


def _child_files(tmp_path: Path) -> tuple[Path, Path]:
    case = CaseResult(
        "triad[n=1]@numpy/latency", "triad", {"n": 1}, "numpy", {}, "latency", "ok", loops=8
    )
    record = RunRecord(
        "child", "2026-11-21", RunConfig("run"), {"cpu": {"model": "X"}}, {}, (case,)
    )
    template = tmp_path / "template.json"
    template.write_text(json.dumps(to_dict(record)))
    return _write(tmp_path, CHILD, "child.py"), template


def test_ab_with_commands_runs_a_fresh_process_per_side_per_block(tmp_path):
    child, tpl = _child_files(tmp_path)
    py = sys.executable
    work = tmp_path / "blocks"
    a_cmd = f"{py} {child} {tpl} 1.0 {{out}}"
    b_cmd = f"{py} {child} {tpl} 1.2"  # no {out}: `--out DIR` is appended
    args = ["--a-cmd", a_cmd, "--b-cmd", b_cmd, "--workdir", str(work), "--min-blocks", "6"]
    code, report = _ab(*args, "--max-blocks", "6")
    assert code == 1 and report["cases"][0]["verdict"] == "REGRESSION"
    assert report["cases"][0]["estimate"]["ratio"] == pytest.approx(1.2, rel=0.02)
    assert len(list(work.glob("block*-A"))) == 6 and len(list(work.glob("block*-B"))) == 6


def test_a_broken_command_is_an_error_never_a_regression(tmp_path):
    child, tpl = _child_files(tmp_path)
    py = sys.executable
    args = ["ab", "--a-cmd", f"{py} {child} {tpl} 1.0", "--b-cmd", f"{py} {child} {tpl} -1"]
    result = CliRunner().invoke(main, [*args, "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert "--b-cmd wrote no results file" in result.output
    assert "child broke" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ab"], "give a CONFIG suite"),
        (["ab", "--a-cmd", "true"], "go together"),
        (["compare", "x.json", "y.json", "--tolerance", "2"], "tolerance = 2.0 must be"),
        (["compare", "x.json", "y.json"], "no such results file"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and message in result.output


def _stored(tmp_path: Path, name: str, per_call_s: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    samples = tuple(int(v) for v in 16 * per_call_s * 1e9 * rng.lognormal(0, 0.01, 100))
    case = CaseResult(
        "gemm[m=64]@numpy/latency",
        "gemm",
        {"m": 64},
        "numpy",
        {},
        "latency",
        "ok",
        loops=16,
        sample_ns=samples,
    )
    fp = {"cpu": {"model": "Xeon"}, "versions": {"numpy": "2.0" if seed else "2.1"}}
    record = RunRecord(name, "2026-11-21", RunConfig("run"), fp, {}, (case,), state="complete")
    return store.save(record, tmp_path / f"{name}.json")


def test_compare_two_stored_runs_in_every_format(tmp_path):
    base = _stored(tmp_path, "base", 1e-3, 1)
    slower = _stored(tmp_path, "new", 1.3e-3, 0)
    result = CliRunner().invoke(main, ["compare", str(base), str(slower), "--format", "markdown"])
    assert result.exit_code == 1
    assert "| gemm[m=64]@numpy/latency | 1.30" in result.output and "❌ REGRESSION" in result.output
    assert "one BASE run: the verdict is advisory" in result.output
    assert "WARNING: environments differ: versions.numpy: '2.0' -> '2.1'" in result.output
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(
        main, ["compare", str(base), str(base), "--markdown-out", str(summary)]
    )
    assert result.exit_code == 0 and "PASS" in result.output
    assert "✅ PASS" in summary.read_text()


def test_export_feeds_pytest_benchmark_and_compare_reads_it_back(tmp_path):
    base = _stored(tmp_path, "base", 1e-3, 1)
    out = tmp_path / "pb.json"
    result = CliRunner().invoke(main, ["export", str(base), "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["benchmarks"][0]["stats"]["iterations"] == 16
    assert interop.load_any(out).cases[0].sample_ns == store.load(base).cases[0].sample_ns
    result = CliRunner().invoke(main, ["compare", str(out), str(base), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["cases"][0]["estimate"]["ratio"] == pytest.approx(1.0)


def test_gate_eval_runs_its_experiments(tmp_path):
    text = SUITE + "\n[eval]\naa_decisions = 2\nslow_decisions = 1\nslowdowns = [1.0]\n"
    cfg = _write(tmp_path, text)
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["gate-eval", str(cfg), "--json-out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| A/A | 2 |" in result.output and "| +100% work | 1 |" in result.output
    assert "### Power curve at this machine's block noise (" in result.output
    assert "| +20% |" in result.output and "| true slowdown | REGRESSION |" in result.output
    data = json.loads(out.read_text())
    (aa, slowed) = data["experiments"]
    assert len(aa["decisions"]) == 2 and slowed["work_factors"] == [2.0]
    assert slowed["decisions"][0]["verdicts"] == ["REGRESSION"]


class FakeBlocks:
    """A block source with set per-call times: the sequential driver, exactly."""

    labels = ("A", "B")

    def __init__(self, ratios: list[float]) -> None:
        self.ratios, self.count = ratios, 0
        self.case_ids = ["x"]

    def block(self) -> ab.Block:
        ratio = self.ratios[self.count % len(self.ratios)]
        self.count += 1

        def case(t_ns: int) -> CaseResult:
            return CaseResult(
                "x", "triad", {}, "null", {}, "latency", "ok", loops=1, sample_ns=(t_ns,) * 5
            )

        return ab.Block(
            self.count - 1, "AB", (case(1000),), (case(round(1000 * ratio)),), 5000, 5000
        )

    def notes(self) -> list[str]:
        return []

    def fingerprints(self) -> None:
        return None

    def close(self) -> None:
        return None


def test_run_ab_stops_when_decided_and_extends_when_not():
    policy = GatePolicy(min_blocks=10, max_blocks=20, block_step=10)
    clear = ab.run_ab(FakeBlocks([1.20, 1.21, 1.19]), policy)
    assert clear.result.verdict is Verdict.REGRESSION and len(clear.blocks) == 10
    assert clear.result.confidence == 1 - 0.05 / 2  # two looks share alpha
    # straddling the 5% tolerance without clearing the 1% floor: more blocks, then final
    vague = ab.run_ab(FakeBlocks([0.95, 1.12, 1.0, 1.08, 0.97]), policy)
    assert vague.result.verdict is Verdict.INCONCLUSIVE and len(vague.blocks) == 20
    assert vague.wall_ns == 20 * 10_000


def test_sides_and_injection_build_real_pairs():
    suite = configmod.parse(
        {"case": [{"workload": "gemm", "params": {"m": 200}}, {"workload": "triad"}]}, "t"
    )
    planned = configmod.expand(suite, ["numpy"])
    pairs = ab.pair_plan(
        planned, ab.Side("A"), ab.Side("B", "onnxruntime", {"intra_op_threads": 1}, {"m": 100})
    )
    (pa, pb), _ = pairs
    assert (pa.backend, pb.backend, pb.params["m"], dict(pb.options)) == (
        "numpy",
        "onnxruntime",
        100,
        {"intra_op_threads": 1},
    )
    slowed, factor = gate_eval.inject(pa, gate_eval.WORK_PARAM, 0.05)
    assert slowed.params["m"] == 210 and factor == pytest.approx(1.05)
    with pytest.raises(ConfigError, match="no work parameter"):
        gate_eval.inject(pairs[1][0], {}, 0.05)
    assert "m" not in pairs[1][1].params  # a param applies only where the workload has it
