"""The claims verdicts a published report carries: the claims flow over the report's runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.app.history import results_files
from bench.app.runs import results_path
from bench.report.publish import Table


def result_files(results: Sequence[Path], results_dir: Path) -> list[Path]:
    """RESULTS as files: `latest` resolved, a folder as every results file in it."""
    paths = [results_path(name, results_dir) for name in results]
    return [f for p in paths for f in (results_files(p) if p.is_dir() else [p])]


def claims_tables(
    results: Sequence[Path], results_dir: Path, assume: Mapping[str, Any]
) -> list[Table]:
    """The claims and published figures judged against the report's runs (and the newest
    calibration in --results-dir when none is among them), with their evidence."""
    from bench.app.claims import claims_report
    from bench.report.claims import verdict_sections

    files = result_files(results, results_dir)
    calibrations = [f for f in files if f.name.startswith("calibration-")]
    runs = [f for f in files if f not in calibrations]
    done = claims_report(None, runs, calibrations, results_dir, assume)
    return [
        Table(f"claims: {s.title}", s.headers, s.rows, notes=s.notes)
        for s in verdict_sections(done.report)
    ]
