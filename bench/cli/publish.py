"""`runs` and `report`: the index of stored runs, and published comparison reports."""

from __future__ import annotations

from pathlib import Path

import click

from bench.cli import base
from bench.cli.base import escape


@click.command("runs")
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path),
    default=base.RESULTS_DIR, show_default=True, help="The folder of results files.",
)  # fmt: skip
def runs_cmd(results_dir: Path) -> None:
    """List the runs in --results-dir, newest first: id, when, kind, cases, commit, command."""
    from bench.app.history import run_index
    from bench.report.history import runs_table

    console = base.out()
    console.print(runs_table(run_index(results_dir), width=console.width))
    console.print(
        f"show one with: accelbench show {escape(str(results_dir))}/RUN.json", highlight=False
    )


@click.command("report")
@click.argument("results", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--html",
    "html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one self-contained HTML file.",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write GitHub Markdown (plots beside it in FILE_files/).",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="The run others are compared with (id, file or latest).",
)
@click.option("--claims", "with_claims", is_flag=True, help="Add the vendor claims' verdicts.")
@click.option(
    "--history", "pattern", help="Plot the cases matching PATTERN across the runs in --results-dir."
)
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path),
    default=base.RESULTS_DIR, show_default=True, help="Where `latest`, run ids and --history look.",
)  # fmt: skip
def report_cmd(
    results: tuple[Path, ...], html: Path | None, markdown: Path | None, baseline: Path | None,
    with_claims: bool, pattern: str | None, results_dir: Path,
) -> None:  # fmt: skip
    """Publish RESULTS (files, folders or `latest`) as HTML and/or Markdown: tables, plots,
    fingerprints and commands; or, with --history, one case's trend across runs."""
    from bench.app import publish, trend, verdicts
    from bench.core.errors import ConfigError
    from bench.report import document as doc

    if html is None and markdown is None:
        raise ConfigError("report: say where to write it: --html FILE and/or --markdown FILE")
    if pattern is not None:
        report = doc.history_document(pattern, results_dir, trend.history(pattern, results_dir))
    elif results:
        p = publish.gather(results, results_dir, baseline)
        judged = (
            verdicts.claims_verdicts(results, results_dir, _claims_defaults())
            if with_claims
            else None
        )
        claims = doc.claims_tables(judged) if judged is not None else []
        report = doc.document(
            p.runs, p.baseline, p.verdicts, p.notes, p.ceilings, p.fractions, claims
        )
    else:
        raise ConfigError("report: give RESULTS (files, folders or `latest`) or --history PATTERN")
    for path in doc.write(report, html, markdown):
        base.err().print(f"wrote {escape(str(path))}", highlight=False)


def _claims_defaults() -> dict[str, object]:
    """The conditions `claims` judges under by default (its own flags' defaults), so a report
    and the claims command agree without a second copy of them."""
    from bench.cli.claims import claims_cmd

    own = {
        "results",
        "registry_path",
        "calibrations",
        "results_dir",
        "out_format",
        "output",
        "check",
    }
    parsed = claims_cmd.make_context("claims", [], resilient_parsing=True).params
    return {k: v for k, v in parsed.items() if k not in own}
