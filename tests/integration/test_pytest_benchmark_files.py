"""Files written by pytest-benchmark itself: saved without raw data, --benchmark-json, --a-cmd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from bench.cli import main
from bench.gate import interop

TESTS = """
def work(n):
    return sum(i * i for i in range(n))


def test_small(benchmark):
    benchmark(work, 300)


def test_large(benchmark):
    benchmark(work, 3000)
"""
FAST = ["--benchmark-min-rounds=20", "--benchmark-max-time=0.02", "--benchmark-warmup=off"]


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest with pytest-benchmark in a fresh process, so the files are its own."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:accelbench"]
    cmd = [*argv, *FAST, *args, "test_work.py"]
    return subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=300)


def _saved(tmp_path: Path, name: str) -> Path:
    """A file from --benchmark-save: statistics only, no raw data (pytest-benchmark's default)."""
    (tmp_path / "test_work.py").write_text(TESTS, encoding="utf-8")
    proc = _pytest(tmp_path, f"--benchmark-save={name}", "--benchmark-storage=file://./store")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = (tmp_path / "store").rglob(f"*_{name}.json")
    return path


def test_saved_files_without_raw_data_compare_on_their_statistics(tmp_path):
    a, b = _saved(tmp_path, "a"), _saved(tmp_path, "b")
    stats = json.loads(a.read_text())["benchmarks"][0]["stats"]
    assert "data" not in stats and stats["rounds"] >= 20  # written by pytest-benchmark itself
    record = interop.load_any(a)
    assert record.cases[0].details[interop.STORED_STATS]["median"] == stats["median"]
    assert interop.NO_RAW_DATA in record.cases[0].warnings
    result = CliRunner().invoke(main, ["compare", str(a), str(b), "--format", "json"])
    report = json.loads(result.output)
    verdicts = [c["verdict"] for c in report["cases"]]
    assert len(verdicts) == 2 and "ERROR" not in verdicts, result.output
    assert result.exit_code in (0, 1, 3)
    assert all("stored statistics" in c["estimate"]["method"] for c in report["cases"])


def test_ab_runs_pytest_benchmark_json_as_each_side(tmp_path):
    (tmp_path / "test_work.py").write_text(TESTS, encoding="utf-8")
    side = " ".join(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:accelbench",
         *FAST, f"{tmp_path / 'test_work.py'}", "--benchmark-json={out}/side.json"]
    )  # fmt: skip
    args = ["ab", "--a-cmd", side, "--b-cmd", side, "--min-blocks", "2", "--max-blocks", "2"]
    args += ["--workdir", str(tmp_path / "ab"), "--format", "json", "--on-inconclusive", "pass"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    ids = [c["case_id"] for c in report["cases"]]
    # pytest-benchmark's fullname: relative to the invocation folder (5.2) or to the rootdir (5.3)
    assert [i.rpartition("/")[2] for i in ids] == [
        "test_work.py::test_small",
        "test_work.py::test_large",
    ]
    assert "ERROR" not in [c["verdict"] for c in report["cases"]]
    assert report["blocks"] == 2
