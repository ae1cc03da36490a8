"""`run` and `show`: measure suites, re-render stored runs."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bench.cli import base
from bench.cli.base import escape, note
from bench.core.policy import SCENARIOS

if TYPE_CHECKING:
    from bench.app.runs import Progress, RunRequest
    from bench.core.records import RunRecord


def print_run(record: RunRecord, path: Path) -> None:
    from bench.report import table as report

    console = base.out()
    console.print(report.results_table(record, width=console.width))
    for line in report.reasons_of(record):
        console.print(escape(line), highlight=False)
    for line in report.warnings_of(record):
        note(line)
    fp = record.fingerprint
    cpu = fp.get("cpu", {})
    console.print(
        f"machine: {cpu.get('model', '?')}, {cpu.get('logical_cores', '?')} cores; "
        f"commit {fp.get('git_commit') or 'unknown'}",
        highlight=False,
    )
    console.print(f"results: [bold]{escape(str(path))}[/]", highlight=False)


def print_chat_run(record: RunRecord, path: Path, notes: Sequence[str] = ()) -> None:
    from bench.report import remote

    console = base.out()
    console.print(remote.remote_table(record.cases, width=console.width))
    for case in record.cases:
        console.print(escape(remote.summary_line(case)), highlight=False)
        for line in [*remote.failure_lines(case), *case.warnings]:
            note(line)
    for line in notes:
        note(line)
    console.print(f"results: [bold]{escape(str(path))}[/]", highlight=False)


def print_any(record: RunRecord, path: Path, notes: Sequence[str] = ()) -> None:
    if any(c.stream is not None for c in record.cases):  # a remote chat run
        print_chat_run(record, path, notes)
    else:
        print_run(record, path)


@contextmanager
def progress_of(planned: Sequence[Any]) -> Iterator[Progress]:
    """A bar with an ETA on a terminal; one line per finished case otherwise (CI logs)."""
    total = len(planned)
    console = base.err()
    if not console.is_terminal:

        def line(i: int, result: Any) -> None:
            status = result.status if result.status == "ok" else f"{result.status}: {result.reason}"
            text = f"[{i + 1}/{total}] {escape(result.case_id)} {escape(status)}"
            console.print(text, highlight=False, soft_wrap=True)  # one log line, never folded

        yield line
        return
    from rich import progress as rp

    columns = (
        rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
        rp.TimeElapsedColumn(), rp.TextColumn("eta"), rp.TimeRemainingColumn(),
    )  # fmt: skip
    with rp.Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(_case_label(planned, 0), total=total)

        def advance(i: int, result: Any) -> None:
            bar.update(task, advance=1, description=_case_label(planned, i + 1))

        yield advance


def _case_label(planned: Sequence[Any], i: int) -> str:
    if i >= len(planned):
        return "done"
    case = planned[i]
    label = getattr(case, "case_id", None) or f"chat@{case.backend}"
    return str(label)[:60]


def finish(record: RunRecord, path: Path, notes: Sequence[str] = ()) -> None:
    """Print the run; exit 1 when a case failed (the run itself finished and was kept)."""
    print_any(record, path, notes)
    failed = [c for c in record.cases if c.status == "failed"]
    if failed:
        for case in failed:
            base.err().print(
                f"[bold red]failed:[/] {escape(case.case_id)}: {escape(case.reason)}",
                highlight=False,
            )
        base.out().print(f"[bold red]{len(failed)} case(s) failed[/] (reasons above)")
        sys.exit(base.EXIT_FAILED_CASES)


def _measure(req: RunRequest, out_dir: Path) -> None:
    from bench.app import chat, runs

    command = base.command_line()
    try:
        if chat.is_chat_run(req.configs, req.workload):
            chat_plan = chat.plan_chat(req)
            with progress_of(chat_plan.suite.cases) as progress:
                record, path = chat.run_chat(chat_plan, command, out_dir, progress)
            finish(record, path, chat_plan.notes)
            return
        plan = runs.plan_local(req)
        with progress_of(plan.planned) as progress:
            record, path = runs.run_local(plan, command, out_dir, req.quick, progress)
    except runs.RunInterrupted as stop:
        if stop.record.cases:
            print_any(stop.record, stop.path)
        base.err().print(f"[yellow]{escape(str(stop))}[/]", highlight=False)
        sys.exit(base.EXIT_INTERRUPTED)
    finish(record, path)


@click.command("run")
@click.argument("configs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-w", "--workload", help="Run only this workload (alone: its defaults and -p).")
@click.option("-b", "--backend", "backends", multiple=True, help="Backend(s) to run on.")
@click.option("-p", "--param", "params", multiple=True, help="key=value; repeat a key to sweep.")
@click.option("-k", "patterns", multiple=True, help="Only cases whose id contains PATTERN (globs too).")
@click.option("--backend-opt", "bopts", multiple=True, help="[backend.]key=value backend option.")
@click.option("--scenario", type=click.Choice(SCENARIOS), help="Override the scenario.")
@click.option("--quick", is_flag=True, help="Smaller sizes and shorter timing (about 30 s).")
@click.option("--input-sets", type=click.IntRange(min=1), help="Rotate N input sets (cold caches).")
@click.option("--min-time", type=float, help="Seconds of samples per case, at least.")
@click.option("--min-samples", type=click.IntRange(min=1), help="Samples per case, at least.")
@click.option("--max-time", type=float, help="Seconds per case, at most (with --target-ci).")
@click.option(
    "--target-ci",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Stop a case once its median's CI half-width is below this fraction (e.g. 0.01).",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    default=base.RESULTS_DIR, show_default=True, help="Folder for the results file.",
)  # fmt: skip
def run_cmd(
    configs: tuple[Path, ...], backends: tuple[str, ...], params: tuple[str, ...],
    patterns: tuple[str, ...], bopts: tuple[str, ...], out_dir: Path, **flags: Any,
) -> None:  # fmt: skip
    """Run CONFIG suites (default: the shipped default suite) on every available local backend."""
    from bench.app.flags import parse_pairs
    from bench.app.runs import RunRequest, TimingFlags

    timing = TimingFlags(
        flags["min_time"], flags["min_samples"], flags["max_time"], flags["target_ci"]
    )
    req = RunRequest(
        configs=configs, workload=flags["workload"], backends=backends,
        params=parse_pairs(params, "-p"), backend_opts=parse_pairs(bopts, "--backend-opt"),
        scenario=flags["scenario"], quick=flags["quick"], input_sets=flags["input_sets"],
        timing=timing, patterns=patterns,
    )  # fmt: skip
    _measure(req, out_dir)


@click.command("show")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the stored record as JSON.")
@click.option(
    "--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one row per case (statistics, rates, params) to this CSV file.",
)  # fmt: skip
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path),
    default=base.RESULTS_DIR, show_default=True, help="Where `latest` looks.",
)  # fmt: skip
def show_cmd(results: Path, as_json: bool, csv_out: Path | None, results_dir: Path) -> None:
    """Re-render a stored run (RESULTS may be `latest`: the newest run in --results-dir)."""
    from bench.app.runs import results_path
    from bench.core import records, store

    path = results_path(results, results_dir)
    record = store.load(path)
    if csv_out is not None:
        from bench.report.frame import cases_frame

        cases_frame(record).to_csv(csv_out, index=False)
        base.err().print(f"wrote {len(record.cases)} case(s) to {escape(str(csv_out))}")
    if as_json:
        base.emit_json(records.to_dict(record))
        return
    print_any(record, path)
