"""A whole published report from what the app gathered: tables and plots in reading order, and
the HTML and Markdown files written from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.core.records import RunRecord
from bench.core.run_info import HistoryPoint
from bench.gate.decide import CaseVerdict
from bench.report import plots, publish
from bench.report.publish import Plot, Report, Table
from bench.report.table import fmt_in, time_unit


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("accelbench")
    except PackageNotFoundError:  # a checkout used without installing it
        return "(not installed)"


def run_plots(record: RunRecord, ceilings: Sequence[Any] = ()) -> list[Plot]:
    """A run's CDF, sample series, roofline (with ceilings) and one throughput curve per sweep."""
    drawn = [
        ("latency distribution", "cdf", plots.latency_cdf(record)),
        ("samples in the order taken", "series", plots.sample_series(record)),
        ("roofline", "roofline", plots.roofline(record, plots.roofs_of(record, ceilings))),
    ]
    for i, curve in enumerate(plots.sweep_curves(record), 1):
        title = f"throughput against {curve.x_label}: {curve.name}"
        drawn.append((title, f"sweep{i}", plots.throughput_curve(curve)))
    out = []
    for title, stem, fig in drawn:
        if fig is not None:
            name, alt = f"{stem}-{record.run_id}", f"{title}, run {record.run_id}"
            out.append(Plot(f"{title} — {record.run_id}", name, plots.png(fig), alt))
    return out


def claims_tables(claims_report: Any) -> list[Table]:
    """The claims command's verdict sections as report tables."""
    from bench.report.claims import verdict_sections

    return [
        Table(f"claims: {s.title}", s.headers, s.rows, notes=s.notes)
        for s in verdict_sections(claims_report)
    ]


def document(
    runs: Sequence[RunRecord],
    baseline: RunRecord | None = None,
    verdicts: Mapping[tuple[str, str], CaseVerdict] | None = None,
    notes: Sequence[str] = (),
    ceilings: Sequence[Any] = (),
    fractions: Mapping[tuple[str, str], float] | None = None,
    claims: Sequence[Table] = (),
) -> Report:
    """Results first (local, remote), then the plots, claims, environments and commands."""
    base_id = baseline.run_id if baseline is not None else None
    tables = [publish.local_table(runs, verdicts or {}, base_id, fractions or {})]
    tables.append(publish.remote_table(runs))
    blocks: list[Table | Plot] = [t for t in tables if t is not None]
    for record in runs:
        blocks += run_plots(record, ceilings)
    blocks += [*claims, publish.fingerprint_table(runs), publish.commands_table(runs)]
    intro = [f"{len(runs)} run(s): {', '.join(r.run_id for r in runs)}."]
    if base_id is not None:
        intro.append(f"Baseline: {base_id}.")
    intro += [*notes, f"Written by accelbench {_version()}."]
    return Report("accelbench report", tuple(intro), tuple(blocks))


def history_table(case_id: str, pts: Sequence[HistoryPoint]) -> Table:
    unit, scale = time_unit(p.median_s for p in pts)
    rows = tuple(
        (
            p.run_id, p.commit, fmt_in(p.median_s, scale),
            f"[{fmt_in(p.ci_low_s, scale)}, {fmt_in(p.ci_high_s, scale)}]", p.change.lower() or "-",
        )
        for p in pts
    )  # fmt: skip
    headers = ("run", "commit, when", f"median {unit}", f"interval {unit}", "gate vs previous run")
    return Table(f"history of {case_id}", headers, rows, frozenset({2, 3}))


def history_document(
    pattern: str, results_dir: Path, series: Mapping[str, Sequence[HistoryPoint]]
) -> Report:
    """A table and a trend plot per matching case."""
    blocks: list[Table | Plot] = []
    for i, (case_id, pts) in enumerate(series.items(), 1):
        blocks.append(history_table(case_id, pts))
        png = plots.png(plots.history(case_id, pts))
        alt = f"median of {case_id} across {len(pts)} runs"
        blocks.append(Plot(f"trend of {case_id}", f"history{i}", png, alt))
    intro = (
        f"Cases matching '{pattern}' across the runs in {results_dir}/, oldest first.",
        "Marked runs: the gate (ratio of medians, bootstrap interval) found a change from the "
        "run before.",
        f"Written by accelbench {_version()}.",
    )
    return Report("accelbench history", intro, tuple(blocks))


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
