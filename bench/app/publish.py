"""Orchestration of `report`: load runs, compare against a baseline, draw, write HTML/Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import __version__
from bench.app.history import load_runs, results_files
from bench.app.runs import results_path
from bench.core import run_info, store
from bench.core.errors import ConfigError
from bench.core.records import CALIBRATION_KIND, RunRecord
from bench.gate.decide import CaseVerdict, GatePolicy, compare_runs
from bench.report import plots, publish
from bench.report.publish import Plot, Report, Table


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


def run_plots(record: RunRecord, ceilings: Sequence[Any] = ()) -> list[Plot]:
    """A run's CDF, sample series, roofline (with ceilings) and one throughput curve per sweep."""
    out = []
    drawn = [
        ("latency distribution", "cdf", plots.latency_cdf(record)),
        ("samples in the order taken", "series", plots.sample_series(record)),
        ("roofline", "roofline", plots.roofline(record, plots.roofs_of(record, ceilings))),
    ]
    for i, curve in enumerate(plots.sweep_curves(record), 1):
        drawn.append(
            (
                f"throughput against {curve.x_label}: {curve.name}",
                f"sweep{i}",
                plots.throughput_curve(curve),
            )
        )
    for title, stem, fig in drawn:
        if fig is not None:
            alt = f"{title}, run {record.run_id}"
            out.append(
                Plot(f"{title} — {record.run_id}", f"{stem}-{record.run_id}", plots.png(fig), alt)
            )
    return out


def build_report(
    results: Sequence[Path], results_dir: Path, baseline: Path | None = None,
    policy: GatePolicy | None = None, claims: Sequence[Table] = (),
) -> Report:  # fmt: skip
    """Tables (local, remote, environment, commands) and plots of the given runs."""
    loaded = load_inputs(results, results_dir)
    runs = [r for r in loaded if run_info.kind(r) != CALIBRATION_KIND]
    if not runs:
        raise ConfigError("report: no runs to report (a calibration alone is not a run)")
    base = find_baseline(baseline, runs, results_dir) if baseline is not None else None
    if base is not None and base.run_id not in {r.run_id for r in runs}:
        runs.insert(0, base)
    verdicts, notes = against_baseline(runs, base, policy or GatePolicy()) if base else ({}, [])
    ceilings = run_ceilings(loaded, results_dir)
    fractions = ceiling_fractions(runs, ceilings)
    tables = [publish.local_table(runs, verdicts, base.run_id if base else None, fractions)]
    tables.append(publish.remote_table(runs))
    blocks: list[Table | Plot] = [t for t in tables if t is not None]
    for record in runs:
        blocks += run_plots(record, ceilings)
    blocks += [*claims, publish.fingerprint_table(runs), publish.commands_table(runs)]
    intro = [f"{len(runs)} run(s): {', '.join(r.run_id for r in runs)}."]
    if base is not None:
        intro.append(f"Baseline: {base.run_id}.")
    intro += notes
    intro.append(f"Written by accelbench {__version__}.")
    return Report("accelbench report", tuple(intro), tuple(blocks))


def write(report: Report, html: Path | None, markdown: Path | None) -> list[Path]:
    """The HTML file (self-contained) and the Markdown file with its PNGs in FILE_files/."""
    from bench.report import html as html_out

    written = []
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(html_out.render(report), encoding="utf-8")
        written.append(html)
    if markdown is not None:
        written += _write_markdown(report, markdown)
    return written


def _write_markdown(report: Report, path: Path) -> list[Path]:
    from bench.report import markdown as md_out

    folder = path.parent / f"{path.stem}_files"
    images: dict[str, str] = {}
    written = []
    for block in report.blocks:
        if isinstance(block, Plot):
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{block.name}.png"
            target.write_bytes(block.png)
            images[block.name] = f"{folder.name}/{target.name}"
            written.append(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(md_out.render(report, images), encoding="utf-8")
    return [path, *written]
