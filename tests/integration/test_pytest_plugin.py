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


CALLABLE_TESTS = """
CALLS = []


def work(n):
    CALLS.append(n)
    return sum(i * i for i in range(n))


def test_own_function(accelbench):
    assert accelbench(work, 200) == sum(i * i for i in range(200))
    if accelbench.disabled:
        assert CALLS == [200]  # --benchmark-disable: called once, timed never
    else:
        assert accelbench.result.case_id == "work" and len(CALLS) > 12


def test_own_function_by_method(accelbench):
    assert accelbench.callable(work, n=50) == sum(i * i for i in range(50))
"""


def test_fixture_times_the_users_own_function_with_min_rounds(pytester: pytest.Pytester):
    pytester.makepyfile(CALLABLE_TESTS)
    out = pytester.path / "own.json"
    args = [*_plugin_args(), f"--benchmark-json={out}", "--benchmark-min-rounds=12", "-q"]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    benches = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert set(benches) == {"test_own_function", "test_own_function_by_method"}
    for bench in benches.values():
        info = bench["extra_info"]["accelbench"]
        # --benchmark-min-rounds is honoured: at least 12 raw samples, as the JSON records
        assert len(bench["stats"]["data"]) == info["samples"] >= 12
        assert bench["options"]["min_rounds"] == 12
        assert info["backend"] == "python" and bench["stats"]["iterations"] == info["loops"]


def test_benchmark_disable_measures_nothing(pytester: pytest.Pytester):
    pytester.makepyfile(CALLABLE_TESTS)
    out = pytester.path / "off.json"
    args = [*_plugin_args(), "--benchmark-disable", f"--benchmark-json={out}", "-q"]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, warnings=0)
    # pytest-benchmark leaves the file empty when disabled: nothing was measured
    assert not out.exists() or not out.read_text().strip()
