"""The pytest11 plugin: the `accelbench` fixture inside another project's pytest run."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

TEST_FILE = """
from bench.core.policy import Policy

SHORT = Policy(warmup_s=0.005, min_samples=5, min_time_s=0.02)


def test_triad(accelbench):
    result = accelbench("triad", "numpy", params={"n": 4096}, policy=SHORT)
    assert result.status == "ok" and result.loops >= 1


def test_unknown_backend_is_an_error(accelbench):
    accelbench("triad", "no-such-backend", params={"n": 16})
"""


def _plugin_args() -> list[str]:
    # once installed, the entry point loads it; before that (a bare checkout) name it
    installed = entry_points(group="pytest11", name="accelbench")
    return [] if installed else ["-p", "bench.pytest_plugin"]


def test_fixture_records_samples_and_extra_info_in_pytest_benchmark(pytester: pytest.Pytester):
    pytester.makepyfile(TEST_FILE)
    out = pytester.path / "bench.json"
    result = pytester.runpytest_inprocess(*_plugin_args(), f"--benchmark-json={out}", "-q")
    result.assert_outcomes(passed=1, errors=0, failed=1)
    result.stdout.fnmatch_lines(["*unknown backend 'no-such-backend'*"])
    (bench,) = json.loads(out.read_text())["benchmarks"]
    info = bench["extra_info"]["accelbench"]
    assert bench["name"] == "test_triad"
    assert bench["stats"]["iterations"] == info["loops"]
    assert len(bench["stats"]["data"]) == info["samples"] >= 5
    # pytest-benchmark's median is accelbench's median: the same raw samples, per call
    assert bench["stats"]["median"] == pytest.approx(info["stats"]["median_s"], rel=1e-9)
    assert info["case_id"] == "triad[n=4096,scalar=3.0,dtype=float32]@numpy/latency"
    assert info["fingerprint"]["cpu"]["logical_cores"] >= 1
    assert info["backend_info"]["device"] == "cpu"
