"""The claims verdicts a published report carries: the claims flow over the report's runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.app.history import results_files
from bench.app.runs import results_path


def result_files(results: Sequence[Path], results_dir: Path) -> list[Path]:
    """RESULTS as files: `latest` resolved, a folder as every results file in it."""
    paths = [results_path(name, results_dir) for name in results]
    return [f for p in paths for f in (results_files(p) if p.is_dir() else [p])]


def claims_verdicts(results: Sequence[Path], results_dir: Path, assume: Mapping[str, Any]) -> Any:
    """The claims and published figures judged against the report's runs (and the newest
    calibration in --results-dir when none is among them): the claims command's report."""
    from bench.app.claims import claims_report

    files = result_files(results, results_dir)
    calibrations = [f for f in files if f.name.startswith("calibration-")]
    runs = [f for f in files if f not in calibrations]
    return claims_report(None, runs, calibrations, results_dir, assume).report
