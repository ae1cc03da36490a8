"""The accelbench command line end to end (CliRunner): every subcommand, real runs, clear errors."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime
import pandas
import pytest
from click.testing import CliRunner, Result

from bench import backends as registry
from bench.app.runs import build_suite
from bench.backends.base import Case, Prepared
from bench.backends.numpy_backend import NumpyBackend
from bench.cli import main
from bench.core import config as configmod
from bench.core import records, store, workloads
from bench.core.stats import summarize
from bench.runner import local

SHIPPED_WORKLOADS = [
    "gemm",
    "triad",
    "softmax",
    "layernorm",
    "attention",
    "mlp",
    "conv2d",
    "decoder",
    "onnx",
]
SMALL_CONFIG = """\
[run]
name = "tiny"
seed = 1
backends = ["numpy", "onnxruntime"]

[quick_policy]
warmup_s = 0.005
min_samples = 5
min_time_s = 0.02

[[case]]
workload = "gemm"
params = { m = 64, n = 32, k = 32 }
quick = { m = 32 }

[[case]]
workload = "triad"
params = { n = 4096 }
"""
# (workload, backend) of SMALL_CONFIG's cases, in run order.
SMALL_CASES = [
    ("gemm", "numpy"),
    ("gemm", "onnxruntime"),
    ("triad", "numpy"),
    ("triad", "onnxruntime"),
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def squash(text: str) -> str:
    """Without colour codes and whitespace: rich may fold a long path or message anywhere."""
    return re.sub(r"\s+", "", ANSI.sub("", text))


def invoke(args: Sequence[str]) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="accelbench")


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SMALL_CONFIG)
    return path


def only_result(out: Path) -> Path:
    files = sorted(out.glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    err = squash(result.stderr)
    assert err.startswith("error:"), result.stderr
    for fragment in fragments:
        assert squash(fragment) in err, (fragment, result.stderr)


# --- listing commands ---


def test_workloads_json_lists_every_workload_with_params() -> None:
    result = invoke(["workloads", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.output)
    by_name = {w["name"]: w for w in listed}
    assert set(SHIPPED_WORKLOADS) <= set(by_name)
    assert [w["name"] for w in listed] == [*workloads.KERNELS, "chat"]
    assert {w["where"] for w in listed if w["name"] != "chat"} == {"local"}
    chat = by_name["chat"]
    assert chat["where"] == "remote"
    chat_params = {p["name"]: p["default"] for p in chat["params"]}
    assert chat_params["max_tokens"] == 128 and chat_params["concurrency"] == 1
    gemm = by_name["gemm"]
    assert [p["name"] for p in gemm["params"]] == ["m", "n", "k", "dtype"]
    assert gemm["params"][0] == {
        "name": "m",
        "default": 512,
        "type": "int",
        "unit": "rows",
        "doc": "rows of A and C",
        "choices": None,
    }
    assert gemm["params"][3]["choices"] == ["float16", "float32", "float64"]
    assert "tiny" in by_name["decoder"]["presets"]
    for w in listed:
        assert w["doc"] and w["params"], w["name"]


def test_workloads_table_names_every_workload() -> None:
    result = invoke(["workloads"])
    assert result.exit_code == 0
    assert "workloads" in result.output
    for name in SHIPPED_WORKLOADS:
        assert re.search(rf"│ {name}\s", result.output), name
    assert "m=512" in result.output


def test_backends_json_says_what_is_available_and_why_not() -> None:
    result = invoke(["backends", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    for name in ("null", "numpy", "onnxruntime"):
        assert rows[name] == {"name": name, "available": True, "reason": "", "local": True}
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        cuda = rows["onnxruntime-cuda"]
        assert cuda["available"] is False
        assert "CUDAExecutionProvider" in cuda["reason"]
        assert "accelbench[onnx-gpu]" in cuda["reason"]


def test_backends_table_marks_each_backend() -> None:
    result = invoke(["backends"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name in ("null", "numpy", "onnxruntime"):
        assert any(re.search(rf"│ ✓\s+│ {re.escape(name)}\s", line) for line in lines), name
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        row = next(line for line in lines if "│ onnxruntime-cuda " in line)
        assert "✗" in row and "CUDAExecutionProvider" in row


def test_env_json_is_the_fingerprint() -> None:
    result = invoke(["env", "--json"])
    assert result.exit_code == 0
    fp = json.loads(result.output)
    assert fp["cpu"]["logical_cores"] >= 1
    assert fp["cpu"]["model"]
    assert fp["python"].count(".") == 2
    assert fp["versions"]["numpy"] == np.__version__
    assert fp["versions"]["onnxruntime"] == onnxruntime.__version__


def test_env_table_flattens_the_fingerprint() -> None:
    result = invoke(["env"])
    assert result.exit_code == 0
    assert "environment" in result.output
    assert "cpu.logical_cores" in result.output
    assert "versions.numpy" in result.output and np.__version__ in result.output


# --- run and show ---


def test_run_quick_on_a_small_config(small_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(["run", str(small_config), "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    path = only_result(out)
    text = squash(result.output)
    assert squash(f"results: {path}") in text
    assert "m=32n=32k=32dtype=float32" in text
    assert "GFLOP/s" in result.output and "GB/s" in result.output

    record = store.load(path)
    assert f"run {record.run_id} (complete)" in result.output
    assert record.state == "complete" and record.finished_at
    assert record.config.quick is True
    assert record.config.seed == 1
    assert record.config.policy is not None and record.config.policy.min_time_s == 0.02
    assert record.fingerprint["cpu"]["logical_cores"] >= 1
    assert {"numpy", "onnxruntime"} <= set(record.backends)
    assert [(c.workload, c.backend) for c in record.cases] == SMALL_CASES
    gemm_params = {"m": 32, "n": 32, "k": 32, "dtype": "float32"}
    assert [c.params for c in record.cases[:2]] == [gemm_params, gemm_params]
    for c in record.cases:
        assert c.status == "ok", c.reason
        assert c.rel_error is not None and c.tolerance is not None
        assert c.rel_error <= c.tolerance
        assert len(c.sample_ns) >= 5 and c.loops >= 1
        assert c.stats == summarize([ns / c.loops / 1e9 for ns in c.sample_ns])
        assert c.stats == c.recomputed_stats()
        assert c.gb_per_s == pytest.approx(c.bytes_moved / c.stats.median_s / 1e9, rel=1e-12)  # type: ignore[operator]
    # The table's rows are the cases, numbered, each marked ok.
    rows = [line for line in result.output.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert len(rows) == 4
    assert all("ok" in row for row in rows)


def test_show_re_renders_a_stored_run(small_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke(["run", str(small_config), "--quick", "--out", str(out)]).exit_code == 0
    path = only_result(out)
    record = store.load(path)

    shown = invoke(["show", str(path)])
    assert shown.exit_code == 0, shown.output
    assert f"run {record.run_id} (complete)" in shown.output
    assert squash(f"results: {path}") in squash(shown.output)
    rows = [line for line in shown.output.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert [tuple(cell.strip() for cell in row.split("│")[2:5:2]) for row in rows] == SMALL_CASES

    as_json = invoke(["show", str(path), "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == records.to_dict(record)

    csv_path = tmp_path / "cases.csv"
    assert invoke(["show", str(path), "--csv", str(csv_path)]).exit_code == 0
    frame = pandas.read_csv(csv_path)
    assert list(frame["case_id"]) == [c.case_id for c in record.cases]
    assert list(frame["median_s"]) == pytest.approx([c.stats.median_s for c in record.cases])


def test_show_errors(tmp_path: Path) -> None:
    assert_usage_error(
        invoke(["show", str(tmp_path / "nope.json")]), f"{tmp_path / 'nope.json'}: no such results"
    )
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema_version": 0, "cases": []}))
    assert_usage_error(invoke(["show", str(old)]), "has schema version 0", "Re-run the benchmark")


def test_workload_flag_sweeps_params_on_one_backend(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "-w", "gemm", "-p", "m=16", "-p", "m=32", "-p", "n=8", "-p", "k=8"]
    args += ["-b", "numpy", "--quick", "--scenario", "throughput", "--target-ci", "0.5"]
    result = invoke([*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = store.load(only_result(out))
    assert [dict(c.params) for c in record.cases] == [
        {"m": 16, "n": 8, "k": 8, "dtype": "float32"},
        {"m": 32, "n": 8, "k": 8, "dtype": "float32"},
    ]
    assert [c.backend for c in record.cases] == ["numpy", "numpy"]
    assert all(c.status == "ok" for c in record.cases)
    assert all(c.case_id.endswith("@numpy/throughput") for c in record.cases)
    assert record.config.policy is not None and record.config.policy.target_ci == 0.5
    assert list(record.backends) == ["numpy"]


def test_workload_flag_filters_a_config(small_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(small_config), "-w", "triad", "-b", "numpy", "--quick"]
    result = invoke([*args, "--backend-opt", "numpy.threads=1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = store.load(only_result(out))
    assert [(c.workload, c.backend) for c in record.cases] == [("triad", "numpy")]
    assert record.cases[0].options == {"threads": 1}
    assert set(record.cases[0].threads["blas"]) == {1}


# --- errors: exit 2, one clear line, nothing written ---


def test_unknown_workload(tmp_path: Path) -> None:
    result = invoke(["run", "-w", "nope", "--out", str(tmp_path / "out")])
    assert_usage_error(result, "unknown workload 'nope' (known: gemm, triad")
    assert not (tmp_path / "out").exists()


def test_unknown_backend_lists_known_ones(tmp_path: Path) -> None:
    result = invoke(["run", "-w", "gemm", "-b", "nope", "--out", str(tmp_path / "out")])
    assert_usage_error(result, "unknown backend 'nope' (known: ", "numpy", "onnxruntime", "null")


def test_unknown_param_key(small_config: Path, tmp_path: Path) -> None:
    result = invoke(["run", "-w", "gemm", "-p", "szie=3", "--out", str(tmp_path / "out")])
    assert_usage_error(
        result, "workload 'gemm' has unknown parameter 'szie' (known: m, n, k, dtype)"
    )
    result = invoke(["run", str(small_config), "-p", "szie=3", "--out", str(tmp_path / "out")])
    assert_usage_error(
        result, "-p szie: no workload in this run has parameter 'szie' (gemm, triad)"
    )


def test_bad_param_value(tmp_path: Path) -> None:
    result = invoke(["run", "-w", "gemm", "-p", "m=-3", "--out", str(tmp_path / "out")])
    assert_usage_error(result, "parameter 'm' = -3 is below its minimum 1")
    result = invoke(["run", "-w", "gemm", "-p", "m", "--out", str(tmp_path / "out")])
    assert_usage_error(result, "-p 'm': expected key=value")
    assert not (tmp_path / "out").exists()


def test_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[run]\nname = "bad"\nseed = = 1\n')
    result = invoke(["run", str(path), "--out", str(tmp_path / "out")])
    assert_usage_error(result, f"{path}: malformed TOML", "line 3")


def test_unwritable_out(small_config: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = invoke(["run", str(small_config), "--quick", "--out", str(blocker / "out")])
    assert_usage_error(
        result, f"--out {blocker / 'out'}: cannot write there", "pick another folder"
    )


def test_unavailable_backend(tmp_path: Path) -> None:
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-cuda is available here")
    result = invoke(["run", "-w", "gemm", "-b", "onnxruntime-cuda", "--out", str(tmp_path)])
    assert_usage_error(
        result,
        "backend 'onnxruntime-cuda' is not available here: CUDAExecutionProvider not in this",
        "pip install 'accelbench[onnx-gpu]'",
    )


def test_unknown_backend_option(tmp_path: Path) -> None:
    result = invoke(
        ["run", "-w", "gemm", "-b", "numpy", "--backend-opt", "nope=1", "--out", str(tmp_path)]
    )
    assert_usage_error(
        result, "--backend-opt nope: no backend in this run has option 'nope' (known: threads)"
    )


# --- failures and interruptions keep what finished ---


class WrongBackend(NumpyBackend):
    """numpy's calls with every output off by one: a wrong result must fail its case."""

    name: ClassVar[str] = "wrong"

    def prepare(self, case: Case) -> Prepared:
        good = super().prepare(case)
        return Prepared(run=good.run, to_host=lambda out: np.asarray(out) + 1.0)


@pytest.fixture
def wrong_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register WrongBackend under `wrong` as a third party would: one entry point."""
    real = registry._entry_points()
    entry = EntryPoint(name="wrong", value=f"{__name__}:WrongBackend", group=registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real, "wrong": entry})


@pytest.mark.usefixtures("wrong_backend")
def test_a_failing_case_is_recorded_and_the_run_goes_on(small_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(small_config), "--quick", "-b", "numpy", "-b", "wrong", "--out", str(out)]
    result = invoke(args)
    assert result.exit_code == 1, result.output
    assert "2 case(s) failed" in result.output
    rows = [line for line in result.output.splitlines() if re.match(r"│\s+\d+ │", line)]
    assert [row.strip("│").split("│")[-1].strip() for row in rows] == ["ok", "failed"] * 2
    assert "#2 failed: " in result.output and "#4 failed: " in result.output  # reasons below
    record = store.load(only_result(out))
    assert record.state == "complete"
    got = [(c.workload, c.backend, c.status) for c in record.cases]
    assert got == [
        ("gemm", "numpy", "ok"),
        ("gemm", "wrong", "failed"),
        ("triad", "numpy", "ok"),
        ("triad", "wrong", "failed"),
    ]
    for c in record.cases:
        if c.status == "failed":
            assert "relative error" in c.reason
            assert c.sample_ns == () and c.stats is None


def test_ctrl_c_keeps_finished_cases(
    small_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = local.run_case
    started: list[str] = []

    def interrupted_third(backend: Any, p: configmod.Planned, *args: Any, **kwargs: Any) -> Any:
        started.append(p.case_id)
        if len(started) == 3:
            raise KeyboardInterrupt
        return real(backend, p, *args, **kwargs)

    monkeypatch.setattr(local, "run_case", interrupted_third)
    out = tmp_path / "out"
    result = invoke(["run", str(small_config), "--quick", "--out", str(out)])
    assert result.exit_code == 130, result.output
    path = only_result(out)
    assert squash(f"interrupted: 2 finished case(s) kept in {path}") in squash(result.stderr)
    record = store.load(path)
    assert record.state == "interrupted" and record.finished_at
    assert [(c.workload, c.backend, c.status) for c in record.cases] == [
        ("gemm", "numpy", "ok"),
        ("gemm", "onnxruntime", "ok"),
    ]
    assert len(started) == 3
    assert sorted(p.name for p in out.iterdir()) == [path.name]  # no temporary files left


# --- selfcheck ---


def test_selfcheck_reports_overhead_and_busy_waits() -> None:
    result = invoke(["selfcheck", "--gemm-size", "64"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "selfcheck" in text
    assert re.search(r"clock read cost\s+│ \d+ ns", text)
    assert re.search(r"clock resolution \(smallest step seen\)\s+│ \d+ ns", text)
    assert re.search(r"null call, harness\s+│ [\d.]+ ns", text)
    assert re.search(r"null call, timeit\s+│ [\d.]+ ns", text)
    ratio = re.search(r"overhead ratio harness/timeit \(aim <= 1\.1\)\s+│ (\d+\.\d{3})", text)
    assert ratio and float(ratio.group(1)) > 0
    for target in ("10 µs", "1 ms", "100 ms"):
        pattern = rf"busy-wait {target}: median\s+│ [\d.]+ (ns|µs|ms|s) \(error [+-]\d+\.\d{{3}}%\)"
        assert re.search(pattern, text), target
    gemm = re.search(
        r"numpy fp32 GEMM 64: harness / hand loop\s+│ ([\d.]+) / ([\d.]+) GFLOP/s \(ratio ([\d.]+)\)",
        text,
    )
    assert gemm, text
    harness, hand, ratio_gemm = map(float, gemm.groups())
    assert harness > 0 and hand > 0
    assert ratio_gemm == pytest.approx(harness / hand, abs=0.01)


# --- the shipped default suite ---


def test_default_config_is_found_and_expands_without_errors() -> None:
    suite = build_suite((), None, {})
    assert suite.name == "default"
    planned = configmod.expand(suite, ["numpy", "onnxruntime"], quick=True)
    assert set(SHIPPED_WORKLOADS) <= {p.spec.name for p in planned}
    assert all(p.backend in ("numpy", "onnxruntime") for p in planned)
    assert len({p.case_id for p in planned}) == len(planned)
