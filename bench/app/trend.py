"""Orchestration of `report --history`: a case's median across the stored runs, with the gate's
verdict between consecutive runs."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

from bench.app.history import load_runs, matches
from bench.core import run_info
from bench.core.errors import ConfigError
from bench.core.records import CALIBRATION_KIND, CaseResult, RunRecord
from bench.core.run_info import HistoryPoint
from bench.gate.decide import GatePolicy, Verdict
from bench.gate.runs import compare_runs

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


def history(
    pattern: str, results_dir: Path, policy: GatePolicy | None = None
) -> dict[str, list[HistoryPoint]]:
    """Per matching case id (sorted), its points across the runs, oldest first."""
    series = case_series(pattern, results_dir)
    return {cid: points(series[cid], policy or GatePolicy()) for cid in sorted(series)}
