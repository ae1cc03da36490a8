"""Remote commands through the CLI: run on chat suites, models, serve-synthetic, accuracy, key hygiene."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.remote.server import Script, running
from bench.runner.clock import perf_ns
from tests.chat_helpers import served

KEY = "sk-accelbench-never-0123456789abcdef"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running(Script(ttft_s=0.005, itl_s=0.001, tokens=8), clock=perf_ns) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1"


@pytest.fixture(scope="module")
def keyed() -> Iterator[str]:
    """A server that wants the bearer key KEY (and answers 401 to anything else)."""
    with running(Script(ttft_s=0.005, itl_s=0.001, tokens=8), api_key=KEY, clock=perf_ns) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1"


def _run(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_run_chat_from_the_command_line(url: str, tmp_path: Path) -> None:
    result = _run(
        "run", "-w", "chat", "-b", "synthetic", "-p", "requests=6", "-p", "concurrency=2",
        "-p", "max_tokens=8", "--backend-opt", f"base_url={url}", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 ok, 0 failed" in _flat(result.output) and "concurrency=2" in result.output
    [path] = tmp_path.glob("*.json")
    case = json.loads(path.read_text())["cases"][0]
    assert len(case["requests"]) == 6 and case["stream"]["requests_ok"] == 6


def test_a_config_file_sweeps_and_stores_every_point(url: str, tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        f'[run]\nbackends = ["synthetic"]\n[backend_options.synthetic]\nbase_url = "{url}"\n'
        '[[case]]\nworkload = "chat"\nparams = { max_tokens = 8 }\n'
        'load = { scenario = "sweep", concurrency = [1, 3], requests = 3 }\n'
    )
    result = _run("run", str(config), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "out").glob("*.json")
    shown = _run("show", str(path))
    assert shown.exit_code == 0 and "remote streaming" in shown.output
    assert "3 ok, 0 failed" in _flat(shown.output)
    ids = [c["case_id"] for c in json.loads(path.read_text())["cases"]]
    assert [i.rsplit("/", 1)[1] for i in ids] == ["concurrency=1", "concurrency=3"]


def test_models_lists_what_the_endpoint_serves(url: str) -> None:
    result = _run("models", "-b", "synthetic", "--backend-opt", f"base_url={url}")
    assert result.exit_code == 0 and result.output.split() == ["synthetic-1"]


def test_an_unserved_model_fails_before_the_run_with_the_served_list(
    url: str, tmp_path: Path
) -> None:
    result = _run(
        "run", "-w", "chat", "-b", "synthetic", "--backend-opt", f"base_url={url}",
        "--backend-opt", "model=nope", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 2
    out = _flat(result.output)
    assert "model 'nope' is not served" in out and "it serves: synthetic-1" in out
    assert not list(tmp_path.glob("*.json"))  # nothing ran


def test_a_missing_key_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    result = _run(
        "run", "-w", "chat", "-b", "groq", "--out", str(tmp_path), env={"GROQ_API_KEY": ""}
    )
    assert result.exit_code == 2 and "GROQ_API_KEY is not set" in _flat(result.output)
    listed = _run("backends", env={"GROQ_API_KEY": ""})
    assert "GROQ_API_KEY is not set" in _flat(listed.output)


def test_all_failed_exits_non_zero_and_says_why(url: str, tmp_path: Path) -> None:
    result = _run(
        "run", "-w", "chat", "-b", "synthetic", "-p", "requests=3", "--backend-opt", f"base_url={url}",
        "--backend-opt", 'extra={"synthetic": {"fault": "500"}}', "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "every request failed (3 of 3: http_5xx): 500 from 127.0.0.1" in _flat(result.output)


def test_the_key_never_reaches_any_output(keyed: str, tmp_path: Path) -> None:
    env = {"ACCELBENCH_TEST_KEY": KEY}
    common = [
        "-w",
        "chat",
        "-b",
        "openai",
        "-p",
        "requests=3",
        "--backend-opt",
        f"base_url={keyed}",
    ]
    common += [
        "--backend-opt",
        "model=synthetic-1",
        "--backend-opt",
        "api_key_env=ACCELBENCH_TEST_KEY",
    ]
    good = _run("run", *common, "--out", str(tmp_path / "good"), env=env)
    assert good.exit_code == 0, good.output  # the key was sent: the server accepted it
    bad = _run(
        "run", *common, "--out", str(tmp_path / "bad"), env={"ACCELBENCH_TEST_KEY": KEY[::-1]}
    )
    assert bad.exit_code == 2
    assert "401 from 127.0.0.1: Invalid API Key; check ACCELBENCH_TEST_KEY" in _flat(bad.output)
    texts = [good.output, bad.output] + [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(texts) >= 3 and not any(KEY in t or KEY[::-1] in t for t in texts)


def test_serve_synthetic_and_the_accuracy_report(tmp_path: Path) -> None:
    with served("--ttft-ms", "10", "--itl-ms", "1", "--tokens", "16") as base:
        result = _run(
            "run", "-w", "chat", "-b", "synthetic", "-p", "requests=5", "-p", "max_tokens=16",
            "--backend-opt", f"base_url={base}", "--out", str(tmp_path),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        [path] = tmp_path.glob("*.json")
        report = _run("synthetic-accuracy", str(path), "--server", base)
    assert report.exit_code == 0, report.output
    assert "TTFT err p50" in report.output and "│ 5 " in report.output
