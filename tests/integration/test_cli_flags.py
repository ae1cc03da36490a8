"""Command-line settings a user reaches for: timing flags, -k, show latest, bad values, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.remote.server import Script, running
from bench.runner.clock import perf_ns
from tests.integration.test_cli import assert_usage_error, invoke, squash

TINY_GEMM = ["-w", "gemm", "-p", "m=16", "-p", "n=16", "-p", "k=16", "-b", "numpy"]


def _stored(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_timing_flags_set_the_recorded_policy_and_the_samples(tmp_path: Path) -> None:
    args = [*TINY_GEMM, "--min-time", "0.02", "--min-samples", "7", "--max-time", "2"]
    result = invoke(["run", *args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [doc] = _stored(tmp_path)
    policy = doc["config"]["policy"]
    assert (policy["min_time_s"], policy["min_samples"], policy["max_time_s"]) == (0.02, 7, 2.0)
    [case] = doc["cases"]
    assert case["status"] == "ok" and len(case["sample_ns"]) >= 7
    assert doc["config"]["kind"] == "run" and "--min-samples 7" in doc["config"]["command"]


def test_k_selects_cases_by_id(tmp_path: Path) -> None:
    args = ["-w", "triad", "-p", "n=1024", "-p", "n=4096", "-b", "numpy", "--min-time", "0.01"]
    result = invoke(["run", *args, "-k", "n=4096", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [doc] = _stored(tmp_path)
    assert [c["params"]["n"] for c in doc["cases"]] == [4096]
    glob = invoke(["run", *args, "-k", "triad*@numpy/*", "--out", str(tmp_path / "g")])
    assert glob.exit_code == 0, glob.output
    assert sorted(c["params"]["n"] for c in _stored(tmp_path / "g")[0]["cases"]) == [1024, 4096]
    # a case id's opening bracket is literal, as typed from the table or the id
    bracket = invoke(["run", *args, "-k", "triad[n=1024,", "--out", str(tmp_path / "b")])
    assert bracket.exit_code == 0, bracket.output
    assert [c["params"]["n"] for c in _stored(tmp_path / "b")[0]["cases"]] == [1024]


def test_k_matching_nothing_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    result = invoke(["run", *TINY_GEMM, "-k", "conv2d", "--out", str(tmp_path)])
    assert_usage_error(result, "-k conv2d: no case matches", "gemm[m=16,n=16,k=16")
    assert not list(tmp_path.glob("*.json"))


def test_bad_timing_values_are_rejected(tmp_path: Path) -> None:
    for flag, value, words in (
        ("--target-ci", "-1", "--target-ci"),
        ("--min-samples", "0", "--min-samples"),
        ("--min-time", "-0.5", "min_time_s = -0.5 must be a positive number of seconds"),
    ):
        result = invoke(["run", *TINY_GEMM, flag, value, "--out", str(tmp_path)])
        assert result.exit_code == 2, (flag, result.output)
        assert squash(words) in squash(result.output + result.stderr), (flag, result.stderr)
    assert not list(tmp_path.glob("*.json"))


def test_backend_option_for_a_backend_not_in_the_run(tmp_path: Path) -> None:
    args = [*TINY_GEMM, "--backend-opt", "onnxruntime.intra_op_threads=1", "--out", str(tmp_path)]
    result = invoke(["run", *args])
    assert_usage_error(result, "backend 'onnxruntime' is not in this run (running: numpy)")


def test_show_latest_picks_the_newest_run(tmp_path: Path) -> None:
    empty = invoke(["show", "latest", "--results-dir", str(tmp_path)])
    assert_usage_error(empty, "latest: no results file in")
    for n in ("16", "24"):
        args = ["-w", "triad", "-p", f"n={n}", "-b", "numpy", "--min-time", "0.01"]
        assert invoke(["run", *args, "--out", str(tmp_path)]).exit_code == 0
        time.sleep(0.01)  # distinct modification times: "newest" must be decidable
    shown = invoke(["show", "latest", "--results-dir", str(tmp_path), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["cases"][0]["params"]["n"] == 24


def test_models_on_a_local_backend_says_so() -> None:
    result = invoke(["models", "-b", "numpy"])
    assert_usage_error(result, "backend 'numpy' is local", "remote backends:", "groq")


def test_chat_runs_record_their_command(tmp_path: Path) -> None:
    with running(Script(ttft_s=0.002, itl_s=0.001, tokens=4), clock=perf_ns) as srv:
        url = f"http://127.0.0.1:{srv.port}/v1"
        args = ["-w", "chat", "-b", "synthetic", "-p", "requests=2", "-p", "max_tokens=4"]
        result = invoke(["run", *args, "--backend-opt", f"base_url={url}", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [doc] = _stored(tmp_path)
    assert doc["config"]["kind"] == "chat" and doc["config"]["command"].startswith("accelbench")
    assert doc["config"]["cases"][0]["load"]["requests"] == 2


def test_serve_synthetic_writes_its_log_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    cmd = [sys.executable, "-m", "bench", "serve-synthetic", "--port", "0", "--log", str(log)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server is listening once it says so
        assert line.startswith("listening on http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert json.loads(log.read_text())["clock"].startswith("CLOCK_MONOTONIC")
