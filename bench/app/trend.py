"""Orchestration of `report --history`: a case's median across the stored runs, with the gate's
verdict between consecutive runs."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

from bench import __version__
from bench.app.history import load_runs, matches
from bench.core import run_info
from bench.core.errors import ConfigError
from bench.core.records import CALIBRATION_KIND, CaseResult, RunRecord
from bench.gate.decide import GatePolicy, Verdict, compare_runs
from bench.report import plots
from bench.report.plots import HistoryPoint
from bench.report.publish import Plot, Report, Table
from bench.report.table import fmt_in, time_unit

Series = list[tuple[RunRecord, CaseResult]]


def case_series(pattern: str, results_dir: Path) -> dict[str, Series]:
    """Per matching case id, the runs (oldest first) where it was measured."""
    runs = [r for r in load_runs(results_dir) if run_info.kind(r) != CALIBRATION_KIND]
    series: dict[str, Series] = defaultdict(list)
    for record in runs:
        for case in record.cases:
            if case.status == "ok" and case.stats and matches(case.case_id, pattern):
                series[case.case_id].append((record, case))
    if not series:
        seen = sorted({c.case_id for r in runs for c in r.cases})[:3]
        raise ConfigError(
            f"--history {pattern}: no measured case matches in {results_dir}/ "
            f"({len(runs)} run(s); case ids look like: {', '.join(seen) or 'none'})"
        )
    return dict(series)


def change(
    before: tuple[RunRecord, CaseResult], after: tuple[RunRecord, CaseResult], policy: GatePolicy
) -> str:
    """REGRESSION or IMPROVED when the gate finds one between two runs of the case, else ''."""
    a = dataclasses.replace(before[0], cases=(before[1],))
    b = dataclasses.replace(after[0], cases=(after[1],))
    verdict = compare_runs(a, b, policy).cases[0].verdict
    return verdict.value if verdict in (Verdict.REGRESSION, Verdict.IMPROVED) else ""


def points(series: Series, policy: GatePolicy) -> list[HistoryPoint]:
    out = []
    for i, (record, case) in enumerate(series):
        s = case.stats
        assert s is not None  # case_series keeps measured cases only
        moved = change(series[i - 1], series[i], policy) if i else ""
        label = f"{run_info.short_commit(record)} {record.created_at[5:16].replace('T', ' ')}"
        out.append(HistoryPoint(record.run_id, label, s.median_s, s.ci_low_s, s.ci_high_s, moved))
    return out


def history_table(case_id: str, pts: list[HistoryPoint]) -> Table:
    unit, scale = time_unit(p.median_s for p in pts)
    rows = tuple(
        (
            p.run_id,
            p.commit,
            fmt_in(p.median_s, scale),
            f"[{fmt_in(p.ci_low_s, scale)}, {fmt_in(p.ci_high_s, scale)}]",
            p.change.lower() or "-",
        )
        for p in pts
    )
    headers = ("run", "commit, when", f"median {unit}", f"interval {unit}", "gate vs previous run")
    return Table(f"history of {case_id}", headers, rows, frozenset({2, 3}))


def build_history(pattern: str, results_dir: Path, policy: GatePolicy | None = None) -> Report:
    """A table and a trend plot per matching case."""
    blocks: list[Table | Plot] = []
    for i, (case_id, series) in enumerate(sorted(case_series(pattern, results_dir).items()), 1):
        pts = points(series, policy or GatePolicy())
        blocks.append(history_table(case_id, pts))
        png = plots.png(plots.history(case_id, pts))
        blocks.append(
            Plot(
                f"trend of {case_id}",
                f"history{i}",
                png,
                f"median of {case_id} across {len(pts)} runs",
            )
        )
    intro = (
        f"Cases matching '{pattern}' across the runs in {results_dir}/, oldest first.",
        "Marked runs: the gate (ratio of medians, bootstrap interval) found a change from the run before.",
        f"Written by accelbench {__version__}.",
    )
    return Report("accelbench history", intro, tuple(blocks))
