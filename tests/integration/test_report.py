"""`runs` and `report`: real runs (numpy, synthetic endpoint) published as HTML and Markdown."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from matplotlib import image

import bench
from bench.cli import main
from bench.core import store
from bench.remote.server import Script, running
from bench.report.claims import VERDICT_STYLE
from bench.runner.clock import perf_ns

TINY = """\
[run]
seed = 3
backends = ["numpy"]

[[case]]
workload = "gemm"
params = { m = 16, n = 16, k = 16 }

[[case]]
workload = "triad"
params = { n = 1024 }
"""


def invoke(*args: str, columns: int = 200) -> Result:
    return CliRunner().invoke(
        main, list(args), env={"COLUMNS": str(columns)}, catch_exceptions=False
    )


def measure(config: Path, out: Path) -> Path:
    before = set(out.glob("*.json")) if out.exists() else set()
    result = invoke("run", str(config), "--min-time", "0.01", "--out", str(out))
    assert result.exit_code == 0, result.output
    [path] = set(out.glob("*.json")) - before
    return path


def slowed(path: Path, factor: float, run_id: str, created_at: str) -> Path:
    """A copy of a real run whose every sample took `factor` times as long (a known change)."""
    record = store.load(path)
    cases = tuple(
        dataclasses.replace(c, sample_ns=tuple(int(ns * factor) for ns in c.sample_ns), stats=None)
        for c in record.cases
    )
    cases = tuple(dataclasses.replace(c, stats=c.recomputed_stats()) for c in cases)
    copy = dataclasses.replace(record, run_id=run_id, created_at=created_at, cases=cases)
    return store.save(copy, path.parent / f"{run_id}.json")


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five real runs of the tiny suite, then a copy of the last one slowed down 2x."""
    folder = tmp_path_factory.mktemp("report")
    config = folder / "tiny.toml"
    config.write_text(TINY)
    paths = [measure(config, folder / "results") for _ in range(5)]
    last = store.load(paths[-1])
    paths.append(slowed(paths[-1], 2.0, "zz-slowed", last.created_at + "z"))
    return paths


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("chat")
    script = Script(ttft_s=0.004, itl_s=0.001, tokens=8, style="groq", queue_s=0.001)
    with running(script, clock=perf_ns) as srv:
        config = folder / "sweep.toml"
        config.write_text(
            f'[run]\nbackends = ["synthetic"]\n[backend_options.synthetic]\n'
            f'base_url = "http://127.0.0.1:{srv.port}/v1"\n[[case]]\nworkload = "chat"\n'
            "params = { max_tokens = 8 }\n"
            'load = { scenario = "sweep", concurrency = [1, 2, 4], requests = 8 }\n'
        )
        yield measure(config, folder / "results")


IMAGE = r"!\[(?:\\.|[^\]\\])*\]\(([^)]+)\)"  # a Markdown image; its alt may hold \[ \]


def md_tables(text: str) -> list[list[list[str]]]:
    """Each Markdown table as rows of cells (escaped pipes kept inside cells)."""
    tables, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif current:
            tables.append(current)
            current = []
    return tables


def data_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_runs_lists_the_runs_newest_first(local_runs: list[Path]) -> None:
    result = invoke("runs", "--results-dir", str(local_runs[0].parent))
    assert result.exit_code == 0, result.output
    rows = [
        line for line in result.output.splitlines() if line.startswith("│ ") and "-" in line[:30]
    ]
    ids = [row.split("│")[1].strip() for row in rows if row.split("│")[1].strip()]
    expected = sorted(
        (store.load(p) for p in local_runs), key=lambda r: (r.created_at, r.run_id), reverse=True
    )
    assert ids == [r.run_id for r in expected]
    assert "6 run(s), newest first" in result.output
    first = rows[-1]  # the oldest run: 2 cases ok, none failed, its commit and command
    assert "│ run " in first and "2/0/0" in first and "accelbench run" in first


def test_report_of_local_runs_against_a_baseline(local_runs: list[Path], tmp_path: Path) -> None:
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    slow, fast = local_runs[-1], local_runs[-2]
    result = invoke(
        "report", str(fast), "--baseline", str(slow), "--html", str(html), "--markdown", str(md)
    )
    assert result.exit_code == 0, result.output
    text = md.read_text()
    tables = md_tables(text)
    for t in tables:
        assert len({len(row) for row in t}) == 1, t[0]  # every row as wide as the header
    local = tables[0]
    head = local[0]
    assert head[:2] == ["run", "#"] and head[-1] == "vs zz-slowed"
    by_run = {(row[0], row[2]): row for row in local[2:]}
    fast_id = store.load(fast).run_id
    # the slowed copy is the same samples x2: the gate's interval supports "2.00x faster"
    assert by_run[(fast_id, "gemm")][-1].startswith("2.00x faster [")
    assert by_run[("zz-slowed", "triad")][-1] == "baseline"
    record = store.load(fast)
    unit = head[5].split()[1]
    scale = {"s": 1, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}[unit]
    median = float(by_run[(fast_id, "gemm")][5].replace(",", "")) * scale
    assert median == pytest.approx(record.cases[0].stats.median_s, rel=5e-3)  # type: ignore[union-attr]
    # fingerprints side by side, one column per run; the commands that reproduce each run
    env = next(t for t in tables if t[0][0] == "entry")
    assert env[0][1:3] == ["zz-slowed", fast_id]
    commands = next(t for t in tables if t[0][-1] == "command")
    assert any(row[-1].startswith("`accelbench run ") for row in commands[2:])
    # plots: linked files that decode, the same ones the HTML embeds
    links = re.findall(IMAGE, text)
    assert len(links) == 4  # a CDF and a sample series per run
    for link in links:
        assert image.imread(md.parent / link).shape[2] in (3, 4)
    page = html.read_text()
    assert page.count("<table>") == len(tables)
    pngs = data_pngs(page)
    assert len(pngs) == len(links)
    assert all(image.imread(io.BytesIO(p)).ndim == 3 for p in pngs)
    assert not re.search(r"(src|href)=\"https?:", page)  # nothing fetched from the network


def test_report_of_identical_samples_claims_no_change(
    local_runs: list[Path], tmp_path: Path
) -> None:
    run = local_runs[0]
    record = store.load(run)
    twin = slowed(run, 1.0, "aa-twin", record.created_at)  # an A/A pair: the very same samples
    md = tmp_path / "same.md"
    assert invoke("report", str(twin), "--baseline", str(run), "--markdown", str(md)).exit_code == 0
    local = md_tables(md.read_text())[0]
    assert local[0][-1] == f"vs {record.run_id}"
    cells = {row[0]: row[-1] for row in local[2:] if row[0] == "aa-twin"}
    assert {row[-1] for row in local[2:] if row[0] == record.run_id} == {"baseline"}
    # the interval of an A/A ratio always holds 1: no speed-up or slow-down is ever claimed
    assert set(cells.values()) <= {"no change shown (within tolerance)", "inconclusive"}
    twin.unlink()  # the other tests count the runs in this folder


def test_report_of_a_chat_sweep(chat_run: Path, tmp_path: Path) -> None:
    md, html = tmp_path / "chat.md", tmp_path / "chat.html"
    assert (
        invoke("report", str(chat_run), "--markdown", str(md), "--html", str(html)).exit_code == 0
    )
    record = store.load(chat_run)
    [remote, *_] = md_tables(md.read_text())
    head = remote[0]
    assert head[:3] == ["backend", "load", "ok/failed"]
    assert [row[1] for row in remote[2:]] == ["concurrency 1", "concurrency 2", "concurrency 4"]
    assert all(row[2] == "8/0" for row in remote[2:])
    assert any(h.startswith("queue p50") for h in head) and any(
        h.startswith("decode p50") for h in head
    )
    unit = head[3].split()[2]
    scale = {"s": 1, "ms": 1e-3, "µs": 1e-6}[unit]
    ttfts = [float(row[3]) * scale for row in remote[2:]]
    stored = [c.stream.ttft.median_s for c in record.cases]  # type: ignore[union-attr]
    assert ttfts == pytest.approx(stored, rel=5e-3)
    queue = head.index(next(h for h in head if h.startswith("queue p50")))
    assert all(float(row[queue]) * scale == pytest.approx(0.001) for row in remote[2:])
    # the same run as a frame: one row per load point, the stream's figures as columns
    frame = bench.load_frame(chat_run)
    assert list(frame["concurrency"]) == [1, 2, 4] and str(frame["concurrency"].dtype) == "Int64"
    assert list(frame["ttft_p50_s"]) == stored and list(frame["requests_ok"]) == [8, 8, 8]
    # one throughput curve for the sweep
    links = re.findall(IMAGE, md.read_text())
    assert [Path(link).name.split("-")[0] for link in links] == ["sweep1"]
    assert len(data_pngs(html.read_text())) == 1


def test_history_plots_a_case_across_runs_and_marks_the_change(
    local_runs: list[Path], tmp_path: Path
) -> None:
    md = tmp_path / "history.md"
    result = invoke(
        "report",
        "--history",
        "gemm",
        "--results-dir",
        str(local_runs[0].parent),
        "--markdown",
        str(md),
    )
    assert result.exit_code == 0, result.output
    [table] = md_tables(md.read_text())
    assert len(table) == 2 + 6  # header, rule, one row per run, oldest first
    runs = sorted((store.load(p) for p in local_runs), key=lambda r: (r.created_at, r.run_id))
    assert [row[0] for row in table[2:]] == [r.run_id for r in runs]
    assert table[-1][-1] == "regression"  # the slowed copy, against the run before it
    links = re.findall(IMAGE, md.read_text())
    assert len(links) == 1 and image.imread(md.parent / links[0]).ndim == 3


def test_report_usage_errors(local_runs: list[Path], tmp_path: Path) -> None:
    no_output = invoke("report", str(local_runs[0]))
    assert no_output.exit_code == 2 and "--html FILE and/or --markdown FILE" in no_output.output
    none = invoke("report", "--markdown", str(tmp_path / "x.md"))
    assert none.exit_code == 2 and "give RESULTS" in none.output
    miss = invoke(
        "report",
        "--history",
        "nosuchcase",
        "--results-dir",
        str(local_runs[0].parent),
        "--markdown",
        str(tmp_path / "h.md"),
    )
    assert miss.exit_code == 2 and "no measured case matches" in miss.output


def test_a_calibration_among_results_gives_the_percent_of_ceiling(
    local_runs: list[Path], tmp_path: Path
) -> None:
    from bench.claims.ceilings import ceilings_from_record, fraction_of_ceiling

    made = invoke("calibrate", "--quick", "-b", "numpy", "--out", str(tmp_path / "cal"))
    assert made.exit_code == 0, made.output
    [cal] = (tmp_path / "cal").glob("calibration-*.json")
    md = tmp_path / "ceiling.md"
    assert invoke("report", str(local_runs[0]), str(cal), "--markdown", str(md)).exit_code == 0
    local = md_tables(md.read_text())[0]
    column = local[0].index("% ceiling")
    ceilings = ceilings_from_record(store.load(cal))
    expected = [fraction_of_ceiling(c, ceilings) for c in store.load(local_runs[0]).cases]
    assert all(f is not None for f in expected)
    assert [row[column] for row in local[2:]] == [f"{100 * f:.0f}%" for f in expected]  # type: ignore[operator]
    assert local[0][0] == "#" and len(local) == 2 + len(expected)  # the calibration is not a run
    links = [Path(link).name.split("-")[0] for link in re.findall(IMAGE, md.read_text())]
    assert links == ["cdf", "series", "roofline"]  # the ceilings add the roofline


def test_history_patterns_are_substrings_or_globs_with_literal_brackets() -> None:
    from bench.app.history import matches

    cid = "gemm[m=256,n=256,k=256,dtype=float32]@numpy/latency"
    assert matches(cid, "GEMM[m=256") and matches(cid, "gemm[m=256,*@numpy/*")
    assert not matches(cid, "gemm[m=128,*") and not matches(cid, "*@onnxruntime/*")


def test_report_with_claims_carries_each_verdict_and_its_evidence(
    local_runs: list[Path], tmp_path: Path
) -> None:
    md = tmp_path / "claims.md"
    assert invoke("report", str(local_runs[0]), "--claims", "--markdown", str(md)).exit_code == 0
    text = md.read_text()
    assert "### claims: claims in the articles" in text
    tables = md_tables(text)
    for t in tables:
        assert len({len(row) for row in t}) == 1, t[0]
    claims = next(t for t in tables if t[0][:1] == ["id"] and "verdict" in t[0])
    verdict, evidence = claims[0].index("verdict"), claims[0].index("evidence")
    verdicts = {row[verdict] for row in claims[2:]}
    assert verdicts and verdicts <= set(VERDICT_STYLE)  # the claims command's own verdicts
    assert all(row[evidence] for row in claims[2:])  # every verdict says what it rests on
