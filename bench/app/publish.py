"""Orchestration of `report`: load the runs, compare them with a baseline, find the ceilings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.app.history import load_runs, results_files
from bench.app.runs import results_path
from bench.core import run_info, store
from bench.core.errors import ConfigError
from bench.core.records import CALIBRATION_KIND, RunRecord
from bench.gate.decide import CaseVerdict, GatePolicy
from bench.gate.runs import compare_runs


def load_inputs(results: Sequence[Path], results_dir: Path) -> list[RunRecord]:
    """Each RESULTS as given (a file, a folder of runs, or `latest`), duplicates dropped."""
    runs: dict[str, RunRecord] = {}
    for name in results:
        for record in load_runs(results_path(name, results_dir)):
            runs.setdefault(record.run_id, record)
    return list(runs.values())


def find_baseline(name: Path, runs: Sequence[RunRecord], results_dir: Path) -> RunRecord:
    """--baseline: a run id among RESULTS or in --results-dir, a results file, or `latest`."""
    for record in runs:
        if record.run_id == str(name):
            return record
    stored = results_dir / f"{name}.json"
    return store.load(stored if stored.exists() else results_path(name, results_dir))


def against_baseline(
    runs: Sequence[RunRecord], baseline: RunRecord, policy: GatePolicy
) -> tuple[dict[tuple[str, str], CaseVerdict], list[str]]:
    """The gate's verdict per (run, case) against the baseline run, and notes on what could not
    be compared."""
    verdicts: dict[tuple[str, str], CaseVerdict] = {}
    notes = []
    for record in runs:
        if record.run_id == baseline.run_id:
            continue
        try:
            result = compare_runs(baseline, record, policy)
        except ConfigError as exc:
            notes.append(f"{record.run_id} not compared with the baseline: {exc}")
            continue
        verdicts.update({(record.run_id, v.case_id): v for v in result.cases})
        notes += [f"{record.run_id}: {n}" for n in result.notes]
    return verdicts, notes


def run_ceilings(loaded: Sequence[RunRecord], results_dir: Path) -> list[Any]:
    """The newest calibration's ceilings (among RESULTS, else in --results-dir; none: [])."""
    from bench.claims.ceilings import ceilings_from_record

    calibration = _newest_calibration(loaded, results_dir)
    return ceilings_from_record(calibration) if calibration is not None else []


def ceiling_fractions(
    runs: Sequence[RunRecord], ceilings: Sequence[Any]
) -> dict[tuple[str, str], float]:
    """Each local case as a fraction of the ceilings."""
    from bench.claims.ceilings import fraction_of_ceiling

    fractions = {}
    for r in runs:
        for c in r.cases:
            frac = fraction_of_ceiling(c, ceilings) if ceilings else None
            if frac is not None:
                fractions[(r.run_id, c.case_id)] = frac
    return fractions


def _newest_calibration(runs: Sequence[RunRecord], results_dir: Path) -> RunRecord | None:
    given = [r for r in runs if run_info.kind(r) == CALIBRATION_KIND]
    if not given and results_dir.is_dir():
        stored = [p for p in results_files(results_dir) if p.name.startswith("calibration-")]
        given = [store.load(p) for p in stored[-1:]]
    return max(given, key=lambda r: r.created_at) if given else None


@dataclass(frozen=True)
class Published:
    """What a report shows: the runs, the baseline's verdicts on them, and the ceilings."""

    runs: list[RunRecord]
    baseline: RunRecord | None
    verdicts: dict[tuple[str, str], CaseVerdict]
    notes: list[str]
    ceilings: list[Any]
    fractions: dict[tuple[str, str], float]


def gather(
    results: Sequence[Path], results_dir: Path, baseline: Path | None = None,
    policy: GatePolicy | None = None,
) -> Published:  # fmt: skip
    """The runs of RESULTS (a calibration among them gives ceilings, not rows), the gate's
    verdict on each against --baseline, and each case's fraction of the newest ceilings."""
    loaded = load_inputs(results, results_dir)
    runs = [r for r in loaded if run_info.kind(r) != CALIBRATION_KIND]
    if not runs:
        raise ConfigError("report: no runs to report (a calibration alone is not a run)")
    base = find_baseline(baseline, runs, results_dir) if baseline is not None else None
    if base is not None and base.run_id not in {r.run_id for r in runs}:
        runs.insert(0, base)
    verdicts, notes = against_baseline(runs, base, policy or GatePolicy()) if base else ({}, [])
    ceilings = run_ceilings(loaded, results_dir)
    return Published(runs, base, verdicts, notes, ceilings, ceiling_fractions(runs, ceilings))
