"""Loading runs as a DataFrame and terminal tables that fit: real runs through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pandas
import pytest
from click.testing import CliRunner, Result
from rich.cells import cell_len

import bench
from bench.cli import main
from bench.core import store
from bench.core.records import CaseResult
from bench.report import fit
from bench.report.table import time_unit, varying_params

TINY = """\
[run]
seed = 3
backends = ["numpy"]

[[case]]
workload = "gemm"
params = { m = [8, 16], n = 8, k = 8 }

[[case]]
workload = "triad"
params = { n = 512 }
"""


def invoke(args: list[str], columns: int | None = None) -> Result:
    env = {"COLUMNS": str(columns)} if columns else None
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tables")
    config = folder / "tiny.toml"
    config.write_text(TINY)
    out = folder / "results"
    result = invoke(["run", str(config), "--min-time", "0.01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    [path] = out.glob("*.json")
    return path


def test_load_frame_is_one_row_per_case_with_integers_kept(run_file: Path) -> None:
    record = store.load(run_file)
    frame = bench.load_frame(run_file)
    assert list(frame["case_id"]) == [c.case_id for c in record.cases]
    assert list(frame["median_s"]) == [c.stats.median_s for c in record.cases if c.stats]
    assert str(frame["n"].dtype) == "Int64" and str(frame["loops"].dtype) == "Int64"
    # gemm has m, triad does not: still whole numbers, missing where a case lacks the param
    assert str(frame["param.m"].dtype) == "Int64"
    assert list(frame["param.m"].astype("object").where(frame["param.m"].notna(), None)) == [
        8, 16, None,
    ]  # fmt: skip
    assert list(frame["samples"]) == [len(c.sample_ns) for c in record.cases]
    assert set(frame["run_id"]) == {record.run_id}
    # a folder loads every run in it
    assert len(bench.load_frame(run_file.parent)) == len(record.cases)


def test_show_csv_is_the_same_frame(run_file: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "cases.csv"
    assert invoke(["show", str(run_file), "--csv", str(csv_path)]).exit_code == 0
    written = pandas.read_csv(csv_path)
    frame = bench.load_frame(run_file)
    assert list(written.columns) == list(frame.columns)
    assert list(written["param.n"]) == list(frame["param.n"])
    assert list(written["median_s"]) == pytest.approx(list(frame["median_s"]))


def test_import_bench_does_not_import_pandas() -> None:
    import subprocess
    import sys

    code = "import sys, bench; print('pandas' in sys.modules, callable(bench.load_frame))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def _table_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:1] in "┏┃┡│└"]


def test_show_fits_80_columns_and_names_what_it_dropped(run_file: Path) -> None:
    narrow = invoke(["show", str(run_file)], columns=80)
    wide = invoke(["show", str(run_file)], columns=160)
    assert narrow.exit_code == 0 and wide.exit_code == 0
    assert max(cell_len(line) for line in narrow.output.splitlines()) <= 80
    header = _table_lines(narrow.output)[1]
    heads = [h.strip() for h in header.strip("┃").split("┃")]
    assert heads[:4] == ["#", "workload", "params", "backend"] and "status" in heads
    assert "not shown at 80 columns: rel err" in narrow.output
    wide_heads = [h.strip() for h in _table_lines(wide.output)[1].strip("┃").split("┃")]
    assert "rel err" in wide_heads and "not shown" not in wide.output
    # params show what tells the gemm cases apart (m), not n and k they share
    rows = [line for line in _table_lines(wide.output) if re.match(r"│\s+\d+ │", line)]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert [row[2] for row in cells] == ["m=8", "m=16", "n=512 dtype=float32"]
    # one unit per time column, in its header; every cell a bare number
    [median] = [h for h in wide_heads if h.startswith("median ")]
    assert median.split()[1] in ("s", "ms", "µs", "ns")
    col = wide_heads.index(median)
    assert all(re.fullmatch(r"[\d.,]+", row[col]) for row in cells)


def test_varying_params_show_a_default_value_another_case_changes() -> None:
    def case(workload: str, **params: object) -> CaseResult:
        return CaseResult("id", workload, params, "numpy", {}, "latency", "ok")

    cases = [
        case("gemm", m=64, n=64, k=64, dtype="float32"),
        case("gemm", m=64, n=64, k=64, dtype="float64"),
    ]
    assert varying_params(cases) == ["dtype=float32", "dtype=float64"]
    assert time_unit([2e-3, 5e-4, 3e-3]) == ("ms", 1e-3)
    assert time_unit([2e-7, 5e-7, None]) == ("ns", 1e-9)


def test_fit_drops_by_priority_and_keeps_the_first() -> None:
    cols = [
        fit.Column("id", ["1", "2"], 0),
        fit.Column("a" * 10, ["x", "y"], 2),
        fit.Column("b" * 10, ["x", "y"], 1),
        fit.Column("empty", ["-", "-"], 0),
    ]
    kept, dropped = fit.fit(cols, 30)
    assert [c.header for c in kept] == ["id", "b" * 10]
    assert [c.header for c in dropped] == ["empty", "a" * 10]
    assert fit.width_of(kept) <= 30
    kept, _ = fit.fit(cols, 5)
    assert [c.header for c in kept] == ["id"]


def test_show_of_a_chat_sweep_fits_80_columns(tmp_path: Path) -> None:
    from bench.remote.server import Script, running
    from bench.runner.clock import perf_ns

    with running(Script(ttft_s=0.003, itl_s=0.001, tokens=4), clock=perf_ns) as srv:
        args = ["run", "-w", "chat", "-b", "synthetic", "-p", "requests=4", "-p", "concurrency=1"]
        args += ["-p", "concurrency=2", "-p", "max_tokens=4", "--out", str(tmp_path)]
        args += ["--backend-opt", f"base_url=http://127.0.0.1:{srv.port}/v1"]
        assert invoke(args).exit_code == 0
    [path] = tmp_path.glob("*.json")
    shown = invoke(["show", str(path)], columns=80)
    assert shown.exit_code == 0, shown.output
    table = _table_lines(shown.output)
    assert max(cell_len(line) for line in table) <= 80
    heads = [h.strip() for h in table[1].strip("┃").split("┃")]
    assert heads[:5] == ["#", "backend", "load", "ok/failed", heads[4]]
    assert heads[4].startswith("TTFT p50 ")
    rows = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in table
        if re.match(r"│\s+\d+ │", line)
    ]
    assert [(r[2], r[3]) for r in rows] == [("concurrency 1", "4/0"), ("concurrency 2", "4/0")]
    assert "not shown at 80 columns:" in shown.output


def test_a_case_that_did_not_pass_gives_its_reason_under_the_table(tmp_path: Path) -> None:
    from bench.core import resources

    model = resources.shipped("models/tiny_lm.onnx")
    args = ["run", "-w", "onnx", "-p", f"model={model}", "-b", "numpy", "--min-time", "0.01"]
    invoke([*args, "--out", str(tmp_path)])  # onnx has no numpy implementation: unsupported
    [path] = tmp_path.glob("*.json")
    shown = invoke(["show", str(path)], columns=80)
    rows = [line for line in _table_lines(shown.output) if re.match(r"│\s+\d+ │", line)]
    assert [row.strip("│").split("│")[-1].strip() for row in rows] == ["unsupported"]
    assert "#1 unsupported: workload 'onnx' has no array implementation for numpy" in shown.output
