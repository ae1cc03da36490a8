"""Vendor claims against measurements: `calibrate`, `reach` and `claims` (docs/claims.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from bench.cli import base
from bench.cli.base import escape, note


def print_sections(sections: Sequence[Any]) -> None:
    from bench.report import claims as claims_report

    for section in sections:
        base.out().print(claims_report.to_rich(section))


@click.command("calibrate")
@click.option("-b", "--backend", "backends", multiple=True, help="Backend(s) to calibrate.")
@click.option("--dtype", "dtypes", multiple=True, help="GEMM dtype(s); default per device.")
@click.option("--quick", is_flag=True, help="Small sizes and short timing (a smoke test).")
@click.option(
    "--against", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="A stored run whose cases to show as fractions of the new ceilings.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    default=base.RESULTS_DIR, show_default=True, help="Folder for the calibration record.",
)  # fmt: skip
def calibrate_cmd(
    backends: tuple[str, ...], dtypes: tuple[str, ...], quick: bool,
    against: tuple[Path, ...], out_dir: Path,
) -> None:  # fmt: skip
    """Measure this machine's ceilings: large GEMM per dtype, STREAM copy and triad."""
    from bench.app import claims, runs
    from bench.cli.run import progress_of

    command = base.command_line()
    plan = claims.plan_calibration(backends, dtypes, quick, against)
    try:
        with progress_of(plan.planned) as progress:
            done = claims.calibrate(plan, out_dir, command, progress)
    except runs.RunInterrupted as stop:
        base.err().print(f"[yellow]{escape(str(stop))}[/]", highlight=False)
        sys.exit(base.EXIT_INTERRUPTED)
    from bench.report import claims as claims_report

    sections = [claims_report.ceiling_section(done.checks)]
    if done.fractions is not None:
        sections.append(claims_report.fraction_section(done.fractions))
    print_sections(sections)
    for c in done.record.cases:
        if c.status != "ok":
            note(f"{c.case_id}: {c.reason}")
    base.out().print(f"calibration: [bold]{escape(str(done.path))}[/]", highlight=False)


@click.command("reach")
@click.option("--site", default="Riyadh", show_default=True, help="A gazetteer place name.")
@click.option("--lat", type=float, help="Site latitude (with --lon, instead of --site).")
@click.option("--lon", type=float, help="Site longitude.")
@click.option(
    "--budget-ms", type=click.FloatRange(min=0, min_open=True), default=100.0, show_default=True
)
@click.option("--round-trip/--one-way", "round_trip", default=True, show_default=True)
@click.option(
    "--route-factor", "route_factors", type=click.FloatRange(min=1.0), multiple=True,
    help="Fibre path / great-circle distance; repeat it (default: 1.0, 1.5, 2.0).",
)  # fmt: skip
@click.option(
    "--fibre-km-per-ms", type=click.FloatRange(min=0, min_open=True),
    help="Default: the registry's fibre figure.",
)  # fmt: skip
@click.option(
    "--server-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
    help="Server time spent inside the budget.",
)  # fmt: skip
@click.option(
    "--population", type=click.FloatRange(min=0, min_open=True),
    help="Claimed population (default: the registry's reach claim).",
)  # fmt: skip
@click.option("--registry", "registry_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reach_cmd(as_json: bool, **opts: Any) -> None:
    """How many people live within a latency budget of a site (the Groq Riyadh claim)."""
    from bench.app import claims
    from bench.report import claims as claims_report

    opts["route_factors"] = tuple(opts["route_factors"])
    study = claims.reach(claims.ReachRequest(**opts))
    if as_json:
        base.emit_json(claims_report.to_json_value(study))
        return
    print_sections(claims_report.reach_sections(study))


def _assumption_flags(fn: Any) -> Any:
    """The conditions that reach and capacity projections rest on."""
    flags = [
        click.option("--site", default="Riyadh", show_default=True, help="Reach: the site."),
        click.option("--round-trip/--one-way", "round_trip", default=True, show_default=True),
        click.option(
            "--route-factor", type=click.FloatRange(min=1.0), default=1.5, show_default=True
        ),
        click.option("--fibre-km-per-ms", type=float, help="Default: the registry's fibre figure."),
        click.option(
            "--model",
            type=click.Choice(["llama-3.1-8b", "llama-3.1-70b"]),
            default="llama-3.1-70b",
            show_default=True,
            help="Capacity: the model served.",
        ),  # fmt: skip
        click.option("--bytes-per-param", type=float, default=2.0, show_default=True),
        click.option(
            "--utilization",
            type=click.FloatRange(0, 1, min_open=True),
            default=1.0,
            show_default=True,
            help="Share of peak FLOP/s sustained.",
        ),  # fmt: skip
        click.option(
            "--user-speed",
            type=click.FloatRange(min=0, min_open=True),
            default=50.0,
            show_default=True,
            help="tokens/s per concurrent user.",
        ),  # fmt: skip
        click.option(
            "--gpu",
            default="h100-sxm",
            show_default=True,
            help="Registry device for the undisclosed Grenoble GPUs.",
        ),  # fmt: skip
        click.option(
            "--cerebras-systems",
            type=click.IntRange(min=1),
            default=9 * 64,
            show_default=True,
            help="G42's cluster: 9 x 64 systems as publicly described.",
        ),  # fmt: skip
        click.option(
            "--context-tokens",
            type=click.IntRange(min=1),
            default=8192,
            show_default=True,
            help="Capacity: KV cache tokens held per concurrent user.",
        ),  # fmt: skip
        click.option(
            "--last-mile-ms",
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Reach: budget left to the access network.",
        ),  # fmt: skip
    ]
    for flag in reversed(flags):
        fn = flag(fn)
    return fn


@click.command("claims")
@click.argument("results", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--registry", "registry_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--calibration", "calibrations", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Calibration record(s); default: the newest in --results-dir.",
)  # fmt: skip
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default=base.RESULTS_DIR,
    show_default=True, help="Where to find the newest run and calibration when none is named.",
)  # fmt: skip
@click.option(
    "--format", "out_format", type=click.Choice(["terminal", "markdown", "json"]),
    default="terminal", show_default=True,
)  # fmt: skip
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file.",
)
@click.option("--check", is_flag=True, help="Only validate the registry and list its entries.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@_assumption_flags
def claims_cmd(
    results: tuple[Path, ...], registry_path: Path | None, calibrations: tuple[Path, ...],
    results_dir: Path, out_format: str, output: Path | None, check: bool, as_json: bool,
    **assume: Any,
) -> None:  # fmt: skip
    """Hold the vendor claims in configs/claims.toml against stored RESULTS."""
    from bench.app import claims

    out_format = "json" if as_json else out_format

    if check:
        reg = claims.claims_registry(registry_path)
        base.out().print(
            f"{reg.source}: {len(reg.claims)} claims, {len(reg.figures)} figures, "
            f"{len(reg.devices)} devices: valid"
        )
        return
    done = claims.claims_report(registry_path, results, calibrations, results_dir, assume)
    if output is not None and out_format == "terminal":
        out_format = "json" if output.suffix == ".json" else "markdown"
    text = _render(done.report, out_format)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        shown = ", ".join(map(str, done.paths)) or "no runs"
        base.out().print(f"claims report: [bold]{escape(str(output))}[/] (from {escape(shown)})")
    elif isinstance(text, str):
        click.echo(text)
    else:
        print_sections(text)
        how = "as named" if results or calibrations else f"the newest in {results_dir}"
        note(f"read ({how}): {', '.join(map(str, done.paths)) or 'no runs'}")


def _render(report: Any, out_format: str) -> Any:
    """Markdown or JSON text, or the rich sections for the terminal."""
    from bench.report import claims as claims_report

    if out_format == "markdown":
        return claims_report.to_markdown(report)
    if out_format == "json":
        return json.dumps(claims_report.to_json(report), indent=1)
    return claims_report.sections(report)
