"""The accelbench command line: thin click commands, the one place that prints or exits."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench import backends as registry
from bench.core import config as configmod
from bench.core import fingerprint, records, resources, store, workloads
from bench.core.errors import BenchError, ConfigError
from bench.report import table as report
from bench.runner.clock import new_run_id, perf_ns, wall_iso
from bench.runner.local import LocalSession

# Logs and pipes get a wide page: an 80-column default would fold every table row.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
EXIT_FAILED_CASES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A BenchError becomes one red line and exit 2; nothing else is swallowed."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BenchError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(EXIT_USAGE)

    return wrapper


def parse_pairs(pairs: Sequence[str], flag: str) -> dict[str, list[str]]:
    """`key=value` items; a repeated key collects several values (a sweep)."""
    out: dict[str, list[str]] = defaultdict(list)
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {item!r}: expected key=value")
        out[key.strip()].append(value.strip())
    return dict(out)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="accelbench")
def main() -> None:
    """accelbench: matched inference workloads, measured with numbers you can defend."""


# --- listing commands ---


@main.command("workloads")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def workloads_cmd(as_json: bool) -> None:
    """List workloads with their parameters, defaults and units."""
    specs = workloads.all_specs()
    if as_json:
        emit_json(
            [
                {
                    "name": s.name,
                    "doc": s.doc,
                    "presets": list(s.presets),
                    "params": [
                        {
                            "name": p.name,
                            "default": p.default,
                            "type": p.kind.__name__,
                            "unit": p.unit,
                            "doc": p.doc,
                            "choices": p.choices,
                        }
                        for p in s.params
                    ],
                }
                for s in specs
            ]
        )
        return
    table = Table(title="workloads", title_justify="left")
    for col in ("name", "what", "parameters (default)", "presets"):
        table.add_column(col)
    for s in specs:
        params = ", ".join(
            f"{p.name}={p.default!r}" if p.kind is str else f"{p.name}={p.default}"
            for p in s.params
        )
        table.add_row(s.name, s.doc, params, ", ".join(s.presets) or "-")
    console.print(table)


def probe_all() -> list[dict[str, Any]]:
    """Every registered backend with ✓/✗ and the reason (a failing import is a reason too)."""
    rows = []
    for name in registry.names():
        try:
            backend = registry.create(name)
            avail = backend.probe()
            local = bool(getattr(backend, "local", False))
            rows.append(
                {"name": name, "available": avail.ok, "reason": avail.reason, "local": local}
            )
        except BenchError as exc:
            rows.append({"name": name, "available": False, "reason": str(exc), "local": False})
    return rows


@main.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backends_cmd(as_json: bool) -> None:
    """List backends: available here (✓) or not (✗, with the reason)."""
    rows = probe_all()
    if as_json:
        emit_json(rows)
        return
    table = Table(title="backends", title_justify="left")
    for col in ("", "name", "kind", "reason / note"):
        table.add_column(col)
    for r in rows:
        mark = "[green]✓[/]" if r["available"] else "[red]✗[/]"
        table.add_row(mark, r["name"], "local" if r["local"] else "remote", escape(r["reason"]))
    console.print(table)


@main.command("env")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env_cmd(as_json: bool) -> None:
    """Show this machine's environment fingerprint (what every results file records)."""
    fp = fingerprint.collect()
    if as_json:
        emit_json(fp)
        return
    console.print(report.key_value_table("environment", report.flatten(fp)))


@main.command("show")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the stored record as JSON.")
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one row per case (statistics, rates, params) to this CSV file.",
)
@handle_errors
def show_cmd(results: Path, as_json: bool, csv_out: Path | None) -> None:
    """Re-render a stored run."""
    record = store.load(results)
    if csv_out is not None:
        from bench.report.frame import cases_frame

        cases_frame(record).to_csv(csv_out, index=False)
        err_console.print(f"wrote {len(record.cases)} case(s) to {escape(str(csv_out))}")
    if as_json:
        emit_json(records.to_dict(record))
        return
    if any(c.stream is not None for c in record.cases):  # a remote chat run: see remote commands
        print_chat_run(record, results, ())
        return
    print_run(record, results)


# --- run ---


def print_run(record: records.RunRecord, path: Path) -> None:
    console.print(report.results_table(record))
    for line in report.warnings_of(record):
        console.print(f"[yellow]note:[/] {escape(line)}", highlight=False)
    fp = record.fingerprint
    console.print(
        f"machine: {fp.get('cpu', {}).get('model', '?')}, "
        f"{fp.get('cpu', {}).get('logical_cores', '?')} cores; "
        f"commit {fp.get('git_commit') or 'unknown'}",
        highlight=False,
    )
    console.print(f"results: [bold]{escape(str(path))}[/]", highlight=False)


def default_config() -> Path:
    """The shipped default.toml: used only when no CONFIG file (and no -w) is given."""
    return resources.shipped("default.toml")


def build_suite(
    configs: Sequence[Path], workload: str | None, params: dict[str, list[str]]
) -> configmod.Suite:
    """Suites from files (the first one's run settings lead), or one from -w and -p."""
    if not configs and workload:
        spec = workloads.get(workload)
        for key in params:
            if not spec.accepts(key):
                spec.param(key)  # raises, naming the known parameters
        case = {
            "workload": workload,
            "params": {k: v if len(v) > 1 else v[0] for k, v in params.items()},
        }
        return configmod.parse({"case": [case]}, f"-w {workload}")
    suites = [configmod.load(p) for p in (configs or [default_config()])]
    first = suites[0]
    cases = tuple(c for s in suites for c in s.cases if workload in (None, c.workload))
    if not cases:
        raise ConfigError(f"no case of workload '{workload}' in {', '.join(map(str, configs))}")
    for key in params:
        if not any(workloads.get(c.workload).accepts(key) for c in cases):
            names = sorted({c.workload for c in cases})
            raise ConfigError(
                f"-p {key}: no workload in this run has parameter '{key}' ({', '.join(names)})"
            )
    return configmod.Suite(**{**first.__dict__, "cases": cases})


def choose_backends(requested: Sequence[str], suite: configmod.Suite) -> list[str]:
    """Named backends must exist and be available; none named -> every available local one."""
    rows = {r["name"]: r for r in probe_all()}
    named = [*requested] or [
        *(suite.backends or ()),
        *(n for c in suite.cases for n in c.backends or ()),
    ]
    for name in dict.fromkeys(named):
        if name not in rows:
            raise ConfigError(f"unknown backend '{name}' (known: {', '.join(sorted(rows))})")
        if not rows[name]["available"]:
            raise ConfigError(f"backend '{name}' is not available here: {rows[name]['reason']}")
    if requested:
        return list(requested)
    return [n for n, r in rows.items() if r["available"] and r["local"] and n != "null"]


def backend_options(
    pairs: dict[str, list[str]], chosen: Sequence[str]
) -> dict[str, dict[str, str]]:
    """`name.key=value` targets one backend; plain `key=value` every chosen one that has it."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for key, values in pairs.items():
        target, dot, opt = key.rpartition(".")
        targets = [target] if dot else list(chosen)
        takers = [t for t in targets if any(p.name == opt for p in registry.load(t).options_spec)]
        if not takers:
            raise ConfigError(f"--backend-opt {key}: no chosen backend has option '{opt}'")
        for t in takers:
            out[t][opt] = values[-1]
    return dict(out)


@main.command("run")
@click.argument("configs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-w", "--workload", help="Run only this workload (alone: its defaults and -p).")
@click.option("-b", "--backend", "backends", multiple=True, help="Backend(s) to run on.")
@click.option("-p", "--param", "params", multiple=True, help="key=value; repeat a key to sweep.")
@click.option("--backend-opt", "bopts", multiple=True, help="[backend.]key=value backend option.")
@click.option("--scenario", type=click.Choice(configmod.SCENARIOS), help="Override the scenario.")
@click.option("--quick", is_flag=True, help="Smaller sizes and shorter timing (about 30 s).")
@click.option("--input-sets", type=int, help="Rotate N input sets between calls (cold caches).")
@click.option(
    "--target-ci",
    type=float,
    help="Stop a case once its median's CI half-width is below this fraction.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=store.DEFAULT_DIR,
    show_default=True,
    help="Folder for the results file.",
)
@handle_errors
def run_cmd(
    configs: tuple[Path, ...],
    workload: str | None,
    backends: tuple[str, ...],
    params: tuple[str, ...],
    bopts: tuple[str, ...],
    scenario: str | None,
    quick: bool,
    input_sets: int | None,
    target_ci: float | None,
    out_dir: Path,
) -> None:
    """Run CONFIG suites (default: the shipped default.toml) on every available local backend."""
    if is_chat_run(configs, workload):  # remote chat suites: see "remote commands" below
        return run_chat(configs, workload, backends, params, bopts, out_dir)
    param_map = parse_pairs(params, "-p")
    suite = build_suite(configs, workload, param_map)
    chosen = choose_backends(backends, suite)
    opts = {**suite.backend_options, **backend_options(parse_pairs(bopts, "--backend-opt"), chosen)}
    if input_sets is not None and input_sets < 1:
        raise ConfigError(f"--input-sets {input_sets}: must be at least 1")
    suite = dataclasses.replace(
        suite,
        backend_options=opts,
        input_sets=input_sets or suite.input_sets,
    )
    planned = configmod.expand(suite, chosen, quick, scenario, param_map, only=backends)
    policy = suite.quick_policy if quick else suite.policy
    if target_ci is not None:
        policy = dataclasses.replace(policy, target_ci=target_ci)
    out = store.prepare_dir(out_dir)
    record = new_record(suite, chosen, planned, policy, quick)
    path = store.run_path(out, record)
    record = execute(record, planned, LocalSession(policy, suite.seed, suite.input_sets), path)
    print_run(record, path)
    failed = [c for c in record.cases if c.status == "failed"]
    if failed:
        console.print(f"[bold red]{len(failed)} case(s) failed[/] (reasons in the table)")
        sys.exit(EXIT_FAILED_CASES)


def new_record(
    suite: configmod.Suite, chosen: Sequence[str], planned: Sequence[Any], policy: Any, quick: bool
) -> records.RunRecord:
    """The record before any case: resolved config, fingerprint, backend descriptions."""
    stamp = wall_iso()
    run_id = new_run_id(stamp)
    resolved = {
        "command": shlex.join(["accelbench", *sys.argv[1:]]),
        "source": suite.source,
        "quick": quick,
        "seed": suite.seed,
        "input_sets": suite.input_sets,
        "policy": policy.__dict__,
        "cases": [
            {
                "workload": p.spec.name,
                "params": dict(p.params),
                "backend": p.backend,
                "options": dict(p.options),
                "scenario": p.scenario,
            }
            for p in planned
        ],
    }
    described = {name: registry.describe(name) for name in chosen}
    return records.RunRecord(run_id, stamp, resolved, fingerprint.collect(), described)


def execute(
    record: records.RunRecord, planned: Sequence[Any], session: LocalSession, path: Path
) -> records.RunRecord:
    """Run with a progress bar; save after every case; Ctrl-C keeps what finished."""
    store.save(record, path)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("starting", total=len(planned))
            for i, result in enumerate(session.run(planned)):
                record = record.with_case(result)
                store.save(record, path)
                nxt = planned[i + 1].case_id if i + 1 < len(planned) else "done"
                progress.update(task, advance=1, description=nxt[:60])
    except KeyboardInterrupt:
        record = record.finish(wall_iso(), "interrupted")
        store.save(record, path)
        if record.cases:
            print_run(record, path)
        err_console.print(
            f"[yellow]interrupted:[/] {len(record.cases)} finished case(s) kept in {path}",
            highlight=False,
        )
        sys.exit(EXIT_INTERRUPTED)
    finally:
        session.close()
    record = record.finish(wall_iso(), "complete")
    store.save(record, path)
    return record


# --- selfcheck ---


@main.command("selfcheck")
@click.option(
    "--gemm-size",
    default=2048,
    show_default=True,
    help="GEMM size for the GFLOP/s check (0 skips it).",
)
def selfcheck_cmd(gemm_size: int) -> None:
    """The harness measures itself: clock, overhead vs timeit, busy-wait accuracy, GEMM agreement."""
    from bench.runner import selfcheck

    r = selfcheck.run()
    rows = [
        ("clock read cost", f"{r.clock_cost_ns:.0f} ns"),
        ("clock resolution (smallest step seen)", f"{r.clock_resolution_ns} ns"),
        ("null call, harness", f"{r.harness_call_ns:.1f} ns"),
        ("null call, timeit", f"{r.timeit_call_ns:.1f} ns"),
        ("overhead ratio harness/timeit (aim <= 1.1)", f"{r.overhead_ratio:.3f}"),
    ]
    for w in r.waits:
        rows.append(
            (
                f"busy-wait {report.fmt_time(w.target_s)}: median",
                f"{report.fmt_time(w.median_s)} (error {100 * w.error:+.3f}%)",
            )
        )
    if gemm_size:
        g = selfcheck.gemm_agreement(gemm_size)
        rows.append(
            (
                f"numpy fp32 GEMM {g.size}: harness / hand loop",
                f"{g.harness_gflops:.1f} / {g.hand_gflops:.1f} GFLOP/s "
                f"(ratio {g.harness_gflops / g.hand_gflops:.3f})",
            )
        )
    console.print(report.key_value_table("selfcheck", rows))


# --- claims commands ---
# calibrate, claims and reach: vendor claims against measurements (docs/claims.md).


def claims_registry(path: Path | None) -> Any:
    """The --registry file when given, otherwise the shipped claims.toml."""
    from bench.claims import registry as claims

    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: no claims registry there; pass --registry FILE")
    return claims.load(path if path is not None else resources.shipped("claims.toml"))


def calibration_backends(requested: Sequence[str]) -> list[str]:
    """Named backends must be available and local; none named -> every available local one."""
    rows = {r["name"]: r for r in probe_all()}
    for name in requested:
        if name not in rows:
            raise ConfigError(f"unknown backend '{name}' (known: {', '.join(sorted(rows))})")
        if not rows[name]["available"] or not rows[name]["local"]:
            why = rows[name]["reason"] or "a remote backend has no local ceiling"
            raise ConfigError(f"backend '{name}' cannot be calibrated here: {why}")
    if requested:
        return list(requested)
    return [n for n, r in rows.items() if r["available"] and r["local"] and n != "null"]


def print_sections(sections: Sequence[Any]) -> None:
    from bench.report import claims as claims_report

    for section in sections:
        console.print(claims_report.to_rich(section))


@main.command("calibrate")
@click.option("-b", "--backend", "backends", multiple=True, help="Backend(s) to calibrate.")
@click.option("--dtype", "dtypes", multiple=True, help="GEMM dtype(s); default per device.")
@click.option("--quick", is_flag=True, help="Small sizes and short timing (a smoke test).")
@click.option(
    "--against",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A stored run whose cases to show as fractions of the new ceilings.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=store.DEFAULT_DIR,
    show_default=True,
    help="Folder for the calibration record.",
)
@handle_errors
def calibrate_cmd(
    backends: tuple[str, ...],
    dtypes: tuple[str, ...],
    quick: bool,
    against: tuple[Path, ...],
    out_dir: Path,
) -> None:
    """Measure this machine's ceilings: large GEMM per dtype, STREAM copy and triad."""
    from bench.claims.ceilings import ceilings_from_record
    from bench.claims.verdicts import case_fractions, ceiling_checks
    from bench.report import claims as claims_report
    from bench.runner import calibrate

    for dtype in dtypes:
        if dtype not in workloads.DTYPES:
            raise ConfigError(f"--dtype {dtype}: choose from {', '.join(workloads.DTYPES)}")
    reg, runs = claims_registry(None), [store.load(p) for p in against]  # fail before measuring
    names = calibration_backends(backends)
    devices = {n: registry.create(n).describe().device for n in names}
    planned = calibrate.plan(devices, dtypes or None, quick)
    policy = calibrate.QUICK_POLICY if quick else calibrate.POLICY
    flags = [*(f"-b {n}" for n in backends), *(f"--dtype {d}" for d in dtypes)]
    command = " ".join(["accelbench calibrate", *flags, *(["--quick"] if quick else [])])
    record = calibrate.new_record(planned, calibrate.describe(names), policy, command, quick)
    path = store.run_path(store.prepare_dir(out_dir), record)
    record = execute(record, planned, LocalSession(policy), path)
    ceilings = ceilings_from_record(record)
    report_sections = [claims_report.ceiling_section(ceiling_checks(reg, ceilings))]
    if runs:
        report_sections.append(claims_report.fraction_section(case_fractions(reg, runs, ceilings)))
    print_sections(report_sections)
    for c in record.cases:
        if c.status != "ok":
            console.print(
                f"[yellow]note:[/] {escape(c.case_id)}: {escape(c.reason)}", highlight=False
            )
    console.print(f"calibration: [bold]{path}[/]", highlight=False)


def reach_budget_from(
    reg: Any, budget_ms: float, round_trip: bool, fibre: float | None, server_ms: float
) -> Any:
    """The budget; the route factor is set per row of the study."""
    from bench.claims import geo
    from bench.claims.verdicts import fibre_km_per_ms

    speed = fibre if fibre is not None else fibre_km_per_ms(reg)
    return geo.LatencyBudget(budget_ms, round_trip, speed, 1.0, server_ms)


def reach_site(gaz: Any, site: str, lat: float | None, lon: float | None) -> Any:
    from bench.claims import geo

    if (lat is None) != (lon is None):
        raise ConfigError("--lat and --lon go together")
    if lat is not None and lon is not None:
        return geo.City(f"{lat:g},{lon:g}", "", lat, lon, 0.0)
    return geo.find_place(gaz, site)


@main.command("reach")
@click.option("--site", default="Riyadh", show_default=True, help="A gazetteer place name.")
@click.option("--lat", type=float, help="Site latitude (with --lon, instead of --site).")
@click.option("--lon", type=float, help="Site longitude.")
@click.option("--budget-ms", type=float, default=100.0, show_default=True)
@click.option("--round-trip/--one-way", "round_trip", default=True, show_default=True)
@click.option(
    "--route-factor",
    "route_factors",
    type=float,
    multiple=True,
    help="Fibre path / great-circle distance; repeat it (default: 1.0, 1.5, 2.0).",
)
@click.option("--fibre-km-per-ms", type=float, help="Default: the registry's fibre figure.")
@click.option(
    "--server-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="Server time spent inside the budget.",
)
@click.option(
    "--population",
    type=float,
    help="Claimed population (default: the registry's reach claim).",
)
@click.option("--registry", "registry_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def reach_cmd(
    site: str,
    lat: float | None,
    lon: float | None,
    budget_ms: float,
    round_trip: bool,
    route_factors: tuple[float, ...],
    fibre_km_per_ms: float | None,
    server_ms: float,
    population: float | None,
    registry_path: Path | None,
    as_json: bool,
) -> None:
    """How many people live within a latency budget of a site (the Groq Riyadh claim)."""
    from bench.claims import geo, verdicts
    from bench.report import claims as claims_report

    reg = claims_registry(registry_path)
    claim = next((e for e in reg.claims if e.test == "reach"), None)
    claimed = population or (claim.value if claim else None)
    if not claimed:
        raise ConfigError("no reach claim in the registry: pass --population")
    base = reach_budget_from(reg, budget_ms, round_trip, fibre_km_per_ms, server_ms)
    gaz = geo.from_geonames()
    place = reach_site(gaz, site, lat, lon)
    factors = route_factors or verdicts.ROUTE_FACTORS
    combos = [(round_trip, f) for f in factors]
    # The curve and the budget needed use the middle route factor given (1.5 by default).
    base = dataclasses.replace(base, route_factor=sorted(factors)[len(factors) // 2])
    study = verdicts.reach_study(gaz, place, base, claimed, reg.policy, combos)
    if as_json:
        emit_json(claims_report.to_json_value(study))
        return
    print_sections(claims_report.reach_sections(study))


@main.command("claims")
@click.argument("results", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--registry", "registry_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--calibration",
    "calibrations",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibration record(s); default: the newest in --results-dir.",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=store.DEFAULT_DIR,
    show_default=True,
    help="Where to find the newest run and calibration when none is named.",
)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["terminal", "markdown", "json"]),
    default="terminal",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file.",
)
@click.option("--check", is_flag=True, help="Only validate the registry and list its entries.")
@click.option("--site", default="Riyadh", show_default=True, help="Reach: the site.")
@click.option("--round-trip/--one-way", "round_trip", default=True, show_default=True)
@click.option("--route-factor", type=float, default=1.5, show_default=True)
@click.option("--fibre-km-per-ms", type=float, help="Default: the registry's fibre figure.")
@click.option(
    "--model",
    type=click.Choice(["llama-3.1-8b", "llama-3.1-70b"]),
    default="llama-3.1-70b",
    show_default=True,
    help="Capacity: the model served.",
)
@click.option("--bytes-per-param", type=float, default=2.0, show_default=True)
@click.option(
    "--utilization",
    type=float,
    default=1.0,
    show_default=True,
    help="Share of peak FLOP/s sustained.",
)
@click.option(
    "--user-speed",
    type=float,
    default=50.0,
    show_default=True,
    help="tokens/s per concurrent user.",
)
@click.option(
    "--gpu",
    default="h100-sxm",
    show_default=True,
    help="Registry device for the undisclosed Grenoble GPUs.",
)
@click.option("--cerebras-systems", type=int, default=1, show_default=True)
@handle_errors
def claims_cmd(
    results: tuple[Path, ...],
    registry_path: Path | None,
    calibrations: tuple[Path, ...],
    results_dir: Path,
    out_format: str,
    output: Path | None,
    check: bool,
    **assume: Any,
) -> None:
    """Hold the vendor claims in configs/claims.toml against stored RESULTS."""
    from bench.claims import evidence, geo, verdicts

    reg = claims_registry(registry_path)
    if check:
        console.print(
            f"{reg.source}: {len(reg.claims)} claims, {len(reg.figures)} figures, {len(reg.devices)} devices: valid"
        )
        return
    paths = list(results) or [p for p in [evidence.latest_result(results_dir, False)] if p]
    paths += list(calibrations) or [p for p in [evidence.latest_result(results_dir, True)] if p]
    ev = evidence.gather(store.load(p) for p in paths)
    report = verdicts.build(reg, ev, geo.from_geonames(), claims_assumptions(reg, assume))
    if output is not None and out_format == "terminal":
        out_format = "json" if output.suffix == ".json" else "markdown"
    text = render_claims(report, out_format)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(
            f"claims report: [bold]{output}[/] (from {', '.join(map(str, paths)) or 'no runs'})"
        )
    elif isinstance(text, str):
        click.echo(text)
    else:
        print_sections(text)


def claims_assumptions(reg: Any, o: dict[str, Any]) -> Any:
    from bench.claims import geo
    from bench.claims.projections import CapacityAssumptions
    from bench.claims.verdicts import Assumptions, fibre_km_per_ms

    reg.device(o["gpu"])  # an unknown device id fails here, with the known ones
    fibre = o["fibre_km_per_ms"] or fibre_km_per_ms(reg)
    # The budget itself comes from the claim (latency_ms); these are the conditions around it.
    budget = geo.LatencyBudget(
        round_trip=o["round_trip"],
        fibre_km_per_ms=fibre,
        route_factor=o["route_factor"],
    )
    capacity = CapacityAssumptions(
        o["model"],
        o["bytes_per_param"],
        o["utilization"],
        o["user_speed"],
        o["gpu"],
        o["cerebras_systems"],
    )
    return Assumptions(o["site"], budget, capacity)


def render_claims(report: Any, out_format: str) -> Any:
    """Markdown or JSON text, or the rich sections for the terminal."""
    from bench.report import claims as claims_report

    if out_format == "markdown":
        return claims_report.to_markdown(report)
    if out_format == "json":
        return json.dumps(claims_report.to_json(report), indent=1)
    return claims_report.sections(report)


# --- end of claims commands ---


# --- gate commands ---

GATE_FORMATS = ("table", "markdown", "json")


def gate_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The gate policy's flags; each overrides the config's [gate] table."""
    flags = [
        click.option("--tolerance", type=float, help="Slowdown that still passes [0.05]."),
        click.option("--effect-floor", type=float, help="Smallest slowdown ever failed [0.01]."),
        click.option("--alpha", type=float, help="Two-sided error of the intervals [0.05]."),
        click.option("--resamples", type=int, help="Bootstrap resamples [2000]."),
        click.option("--seed", type=int, help="Bootstrap seed [0]."),
        click.option(
            "--format",
            "out_format",
            type=click.Choice(GATE_FORMATS),
            default="table",
            show_default=True,
            help="Report format on stdout.",
        ),
        click.option(
            "--markdown-out",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Also append the Markdown report here (e.g. $GITHUB_STEP_SUMMARY).",
        ),
    ]
    for flag in reversed(flags):
        fn = flag(fn)
    return fn


def gate_policy(table: dict[str, Any], where: str, **flags: Any) -> Any:
    from bench.gate import decide as gate

    base = gate.make_policy(table, where)
    return gate.make_policy({k: v for k, v in flags.items() if v is not None}, "command line", base)


def emit_gate(result: Any, out_format: str, markdown_out: Path | None) -> None:
    """Print the report, append Markdown if asked, and exit with the verdict's code."""
    from bench.report import compare as compare_report

    if out_format == "json":
        emit_json(compare_report.to_json(result))
    elif out_format == "markdown":
        click.echo(compare_report.markdown(result), nl=False)
    else:
        console.print(compare_report.terminal(result))
    if markdown_out is not None:
        try:
            with markdown_out.open("a", encoding="utf-8") as fh:
                fh.write(compare_report.markdown(result))
        except OSError as exc:
            raise ConfigError(f"--markdown-out {markdown_out}: {exc.strerror}") from None
    sys.exit(result.exit_code)


def gate_config_table(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from bench.runner import ab

    return ab.load_gate_config(path)[1]["gate"]


@main.command("compare")
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--gate-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML file whose [gate] table sets the policy (flags override it).",
)
@gate_flags
@handle_errors
def compare_cmd(
    base: Path,
    results: Path,
    gate_config: Path | None,
    out_format: str,
    markdown_out: Path | None,
    **flags: Any,
) -> None:
    """Compare two stored runs (accelbench results or pytest-benchmark JSON).

    Per matching case: ratio of medians RESULTS/BASE with a bootstrap interval and a verdict;
    the suite's geometric mean; fingerprint differences. Exit 0 pass, 1 regression, 2 error,
    3 inconclusive. Two stored runs are weak evidence: `accelbench ab` is the sound gate.
    """
    from bench.gate import decide as gate
    from bench.gate import interop

    policy = gate_policy(gate_config_table(gate_config), f"{gate_config}: [gate]", **flags)
    result = gate.compare_runs(interop.load_any(base), interop.load_any(results), policy)
    emit_gate(result, out_format, markdown_out)


def ab_sides(opts: dict[str, Any]) -> tuple[Any, Any]:
    from bench.runner import ab

    def side(label: str, prefix: str) -> Any:
        options = {
            k: v[-1] for k, v in parse_pairs(opts[f"{prefix}_opt"], f"--{prefix}-opt").items()
        }
        params = {
            k: v[-1] for k, v in parse_pairs(opts[f"{prefix}_param"], f"--{prefix}-param").items()
        }
        return ab.Side(label, opts[f"{prefix}_backend"], options, params)

    return side("A", "a"), side("B", "b")


def ab_source(config: Path | None, opts: dict[str, Any], extra: dict[str, Any]) -> Any:
    """Subprocess blocks for --a-cmd/--b-cmd, else two configurations of CONFIG's suite."""
    from bench.runner import ab

    if opts["a_cmd"] or opts["b_cmd"]:
        if not (opts["a_cmd"] and opts["b_cmd"]):
            raise ConfigError("--a-cmd and --b-cmd go together: give both commands")
        workdir = opts["workdir"] or Path("results") / f"ab-{uuid.uuid4().hex[:8]}"
        return ab.SubprocessBlocks(opts["a_cmd"], opts["b_cmd"], workdir)
    if config is None:
        raise ConfigError("give a CONFIG suite (two configurations) or --a-cmd and --b-cmd")
    suite, _ = ab.load_gate_config(config)
    a, b = ab_sides(opts)
    named = [n for n in (a.backend, b.backend) if n]
    chosen = [a.backend] if a.backend else choose_backends((), suite)
    planned = configmod.expand(suite, chosen or named, opts["quick"])
    planned = [p for p in planned if opts["workload"] in (None, p.spec.name)]
    if not planned:
        raise ConfigError(f"{config}: no case to run (workload filter {opts['workload']!r})")
    pairs = ab.pair_plan(planned, a, b, suite.backend_options)
    ab.check_available(pairs)
    settings = ab.block_settings(extra["ab"], f"{config}: [ab]")
    if opts["sample_time"] is not None:
        settings = dataclasses.replace(settings, sample_time_s=opts["sample_time"])
    return ab.InProcessBlocks(
        pairs, settings, suite.seed, suite.input_sets, (a.describe(), b.describe())
    )


@main.command("ab")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--a-backend", help="Side A's backend (default: the suite's).")
@click.option("--b-backend", help="Side B's backend (default: the suite's).")
@click.option("--a-opt", multiple=True, help="key=value backend option for side A.")
@click.option("--b-opt", multiple=True, help="key=value backend option for side B.")
@click.option("--a-param", multiple=True, help="key=value workload param for side A.")
@click.option("--b-param", multiple=True, help="key=value workload param for side B.")
@click.option("--a-cmd", help="Side A as a command running accelbench; {out} = results folder.")
@click.option("--b-cmd", help="Side B as a command running accelbench; {out} = results folder.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the per-block results of --a-cmd/--b-cmd.",
)
@click.option("-w", "--workload", help="Only this workload's cases.")
@click.option("--quick", is_flag=True, help="The config's quick sizes.")
@click.option("--min-blocks", type=int, help="Blocks before the first look [10].")
@click.option("--max-blocks", type=int, help="Most blocks before INCONCLUSIVE [20].")
@click.option("--block-step", type=int, help="Blocks added per inconclusive look [10].")
@click.option(
    "--method", type=click.Choice(["exact", "bootstrap"]), help="Interval method [exact]."
)
@click.option("--sample-time", type=float, help="Seconds of samples per side per case per block.")
@click.option(
    "--gate-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML file with a [gate] table (default: CONFIG's own).",
)
@gate_flags
@handle_errors
def ab_cmd(config: Path | None, out_format: str, markdown_out: Path | None, **opts: Any) -> None:
    """The sound gate: A and B on this machine in alternating blocks (AB, BA, ...).

    Two configurations of CONFIG's suite (--a-backend/--b-backend, --a-opt/--b-opt,
    --a-param/--b-param), or two environments (--a-cmd/--b-cmd: each block runs the
    command, which must write one results file into {out}; `--out {out}` is appended when
    the command has no {out}). Exit 0 pass, 1 regression, 2 error, 3 inconclusive.
    """
    from bench.runner import ab

    policy_keys = (
        "tolerance",
        "effect_floor",
        "alpha",
        "resamples",
        "seed",
        "min_blocks",
        "max_blocks",
        "block_step",
        "method",
    )
    extra = ab.load_gate_config(config)[1] if config else {"gate": {}, "ab": {}}
    table = gate_config_table(opts["gate_config"]) if opts["gate_config"] else extra["gate"]
    policy = gate_policy(
        table, f"{opts['gate_config'] or config}: [gate]", **{k: opts[k] for k in policy_keys}
    )
    source = ab_source(config, opts, extra)
    try:
        with err_console.status("A/B blocks") as status:
            outcome = ab.run_ab(
                source, policy, lambda b: status.update(f"block {b.index + 1} done")
            )
    finally:
        source.close()
    emit_gate(outcome.result, out_format, markdown_out)


@main.command("export")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["pytest-benchmark"]),
    default="pytest-benchmark",
    show_default=True,
    help="Target format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: stdout).",
)
@handle_errors
def export_cmd(results: Path, out_format: str, output: Path | None) -> None:
    """Export a stored run as pytest-benchmark JSON (for `pytest-benchmark compare`, dashboards)."""
    from bench.gate import interop

    doc = interop.export_run(store.load(results))
    if output is None:
        click.echo(json.dumps(doc, indent=4))
        return
    interop.write_json(doc, output)
    err_console.print(f"wrote {len(doc['benchmarks'])} benchmark(s) to [bold]{output}[/]")


@main.command("gate-eval")
@click.argument(
    "config",
    required=False,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--aa", "aa_decisions", type=int, help="A/A gate decisions (config: [eval] aa_decisions)."
)
@click.option("--slow", "slow_decisions", type=int, help="Decisions per injected slowdown.")
@click.option(
    "--json-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every decision as JSON here.",
)
@click.option(
    "--markdown-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report here.",
)
@handle_errors
def gate_eval_cmd(
    config: Path | None,
    aa_decisions: int | None,
    slow_decisions: int | None,
    json_out: Path | None,
    markdown_out: Path | None,
) -> None:
    """Prove the gate on this machine: A/A false failures, injected-slowdown detection,
    and pytest-benchmark's compare-fail rule on the same samples, with wall times.
    CONFIG defaults to the shipped gate-eval.toml."""
    from bench.app import gate_eval
    from bench.report import compare as compare_report

    planned, policy, blocks, settings = gate_eval.load(config or resources.shipped("gate-eval.toml"))
    counts = {"aa_decisions": aa_decisions, "slow_decisions": slow_decisions}
    settings = dataclasses.replace(settings, **{k: v for k, v in counts.items() if v is not None})

    def progress(label: str, i: int, d: Any) -> None:
        err_console.print(
            f"{label} #{i + 1}: {d.suite.value} after {d.blocks} blocks, {d.wall_ns / 1e9:.1f} s",
            highlight=False,
        )

    experiments = gate_eval.run_all(planned, (policy, blocks, settings), progress)
    summaries = [gate_eval.summarize(e) for e in experiments]
    text = compare_report.eval_markdown(summaries, policy, settings.pytest_benchmark_rule)
    click.echo(text, nl=False)
    if json_out is not None:
        json_out.write_text(json.dumps(gate_eval.to_json(experiments), indent=1), encoding="utf-8")
    if markdown_out is not None:
        markdown_out.write_text(text, encoding="utf-8")


# --- end of gate commands ---


# --- remote commands ---
# Remote (OpenAI-compatible) endpoints: `run` hands chat suites here; models, serve-synthetic,
# synthetic-accuracy. The streaming runner lives in bench/runner/streaming.py.


def is_chat_run(configs: Sequence[Path], workload: str | None) -> bool:
    from bench.remote import chat

    if workload == chat.WORKLOAD:
        return True
    return bool(configs) and workload is None and chat.is_chat_config(configs[0])


def chat_suite(
    configs: Sequence[Path],
    backends: Sequence[str],
    params: dict[str, list[str]],
    bopts: dict[str, list[str]],
) -> Any:
    """A chat suite from a file, or from `-w chat` with -p (workload and load params alike)."""
    from bench.remote import chat

    if configs:
        data, source = chat.read_toml(configs[0]), str(configs[0])
    else:
        loads = {p.name for p in chat.LOAD_PARAMS}
        flat = {k: v if len(v) > 1 else v[0] for k, v in params.items()}
        case = {
            "workload": "chat",
            "params": {k: v for k, v in flat.items() if k not in loads},
            "load": {k: v for k, v in flat.items() if k in loads},
        }
        data, source = {"case": [case]}, "-w chat"
    options = {k: dict(v) for k, v in data.get("backend_options", {}).items()}
    for key, values in bopts.items():
        target, dot, opt = key.rpartition(".")
        for name in (
            [target] if dot else (list(backends) or data.get("run", {}).get("backends", []))
        ):
            options.setdefault(name, {})[opt] = values[-1]
    return chat.parse_suite({**data, "backend_options": options}, source, list(backends) or None)


def chat_record(suite: Any) -> records.RunRecord:
    stamp = wall_iso()
    run_id = new_run_id(stamp)
    resolved = {
        "source": suite.source,
        "seed": suite.seed,
        "cases": [
            {"workload": "chat", "params": dict(c.params), "backend": c.backend,
             "options": dict(c.options), "load": dataclasses.asdict(c.load)}
            for c in suite.cases
        ],
    }  # fmt: skip
    described = {c.backend: registry.describe(c.backend, dict(c.options)) for c in suite.cases}
    return records.RunRecord(run_id, stamp, resolved, fingerprint.collect(), described)


def print_chat_run(record: records.RunRecord, path: Path, notes: Sequence[str]) -> None:
    from bench.report import remote

    console.print(remote.remote_table(record.cases))
    for case in record.cases:
        console.print(escape(remote.summary_line(case)), highlight=False)
        for line in [*remote.failure_lines(case), *case.warnings]:
            console.print(f"[yellow]note:[/] {escape(line)}", highlight=False)
    for line in notes:
        console.print(f"[yellow]note:[/] {escape(line)}", highlight=False)
    console.print(f"results: [bold]{path}[/]", highlight=False)


def run_chat(
    configs: Sequence[Path], workload: str | None, backends: Sequence[str],
    params: Sequence[str], bopts: Sequence[str], out_dir: Path,
) -> None:  # fmt: skip
    """`accelbench run` for chat suites: preflight (key, model), run, print, exit 1 if a case failed."""
    from bench.runner import streaming

    pairs, opt_pairs = parse_pairs(params, "-p"), parse_pairs(bopts, "--backend-opt")
    suite = chat_suite(configs, backends, pairs, opt_pairs)
    notes = streaming.preflight(suite.cases)
    out = store.prepare_dir(out_dir)
    record = chat_record(suite)
    path = store.run_path(out, record)
    record = execute(record, suite.cases, streaming.StreamSession(suite.seed, suite.base), path)
    print_chat_run(record, path, notes)
    failed = [c for c in record.cases if c.status == "failed"]
    for case in failed:
        err_console.print(
            f"[bold red]failed:[/] {escape(case.case_id)}: {escape(case.reason)}", highlight=False
        )
    if failed:
        sys.exit(EXIT_FAILED_CASES)


@main.command("models")
@click.option(
    "-b", "--backend", required=True, help="A remote backend (groq, cerebras, openai, ...)."
)
@click.option(
    "--backend-opt", "bopts", multiple=True, help="key=value backend option (e.g. base_url=...)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def models_cmd(backend: str, bopts: tuple[str, ...], as_json: bool) -> None:
    """List the model ids a remote endpoint serves (GET /models)."""
    from bench.runner import streaming

    options = {k: v[-1] for k, v in parse_pairs(bopts, "--backend-opt").items()}
    instance = registry.create(backend, options)
    avail = instance.probe()
    if not avail.ok:
        raise ConfigError(f"backend '{backend}' cannot run: {avail.reason}")
    ids = streaming.list_models(backend, options)
    if as_json:
        emit_json(ids)
        return
    for model in ids:
        click.echo(model)


@main.command("serve-synthetic")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, help="Port (0: any free one).")
@click.option("--ttft-ms", default=50.0, show_default=True, help="Time to first content token.")
@click.option("--itl-ms", default=5.0, show_default=True, help="Time between tokens.")
@click.option(
    "--tokens", default=128, show_default=True, help="Output tokens (max_tokens caps it)."
)
@click.option("--tokens-per-chunk", default=1, show_default=True, help="Tokens in each SSE chunk.")
@click.option("--jitter-ms", default=0.0, show_default=True, help="Uniform ± jitter on every gap.")
@click.option(
    "--queue-ms", default=0.0, show_default=True, help="Reported queue time (part of TTFT)."
)
@click.option(
    "--style",
    type=click.Choice(["openai", "groq", "cerebras"]),
    default="openai",
    show_default=True,
)
@click.option("--no-usage", is_flag=True, help="Send no token usage at all.")
@click.option(
    "--fault",
    default="none",
    show_default=True,
    help="none, 401, 429, 500, cut, malformed, in_stream_error, hang, stall.",
)
@click.option("--fault-every", default=1, show_default=True, help="Fault every Nth request.")
@click.option("--retry-after-s", default=1.0, show_default=True, help="retry-after sent with 429s.")
@click.option("--model", "models", multiple=True, help="Model id(s) served (default: synthetic-1).")
@click.option("--seed", default=0, show_default=True, help="Seed of the jitter.")
@click.option("--duration-s", default=0.0, help="Stop after this long (0: until Ctrl-C).")
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the send log here on exit.",
)
@handle_errors
def serve_synthetic_cmd(
    host: str, port: int, log_path: Path | None, duration_s: float, **opts: Any
) -> None:
    """Serve a synthetic OpenAI-compatible streaming endpoint (for checks and tests; no key needed)."""
    from bench.remote import server as synthetic

    ms = 1e-3
    script = synthetic.Script(
        ttft_s=opts["ttft_ms"] * ms, itl_s=opts["itl_ms"] * ms, tokens=opts["tokens"],
        tokens_per_chunk=opts["tokens_per_chunk"], jitter_s=opts["jitter_ms"] * ms,
        queue_s=opts["queue_ms"] * ms, style=opts["style"], usage=not opts["no_usage"],
        fault=opts["fault"], fault_every=opts["fault_every"], retry_after_s=opts["retry_after_s"],
        models=tuple(opts["models"]) or ("synthetic-1",), seed=opts["seed"],
    )  # fmt: skip
    server = synthetic.SyntheticServer(script, None, clock=perf_ns)

    def ready() -> None:
        click.echo(f"listening on http://{host}:{server.port}/v1", nl=True)
        sys.stdout.flush()

    try:
        synthetic.serve(server, host, port, duration_s, ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if log_path is not None:
        log_path.write_text(json.dumps(server.take_log()), encoding="utf-8")


@main.command("synthetic-accuracy")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Send log written by serve-synthetic --log.",
)
@click.option(
    "--server",
    default="http://127.0.0.1:8765/v1",
    show_default=True,
    help="Or fetch the log from this server.",
)
@handle_errors
def synthetic_accuracy_cmd(results: Path, log_path: Path | None, server: str) -> None:
    """The client's timing error: a run's stamps against the synthetic server's log of each send."""
    from bench.remote import accuracy
    from bench.runner import streaming

    log = (
        json.loads(log_path.read_text(encoding="utf-8"))
        if log_path
        else streaming.fetch_log(server)
    )
    rows = accuracy.compare_all(store.load(results).cases, log)
    table = Table(title="client timing error vs the server's send log", title_justify="left")
    for col in (
        "case",
        "requests",
        "TTFT err p50",
        "TTFT err p99",
        "ITL |err| p50",
        "ITL |err| p99",
        "client-bound",
    ):
        table.add_column(col)
    for a in rows:
        us = lambda s: f"{s * 1e6:+.0f} µs" if abs(s) < 1e-2 else f"{s * 1e3:+.2f} ms"  # noqa: E731
        bound = f"yes: {a.client_bound_reason}" if a.client_bound else "no"
        table.add_row(
            escape(a.case_id.rpartition("@")[2]),  # backend/load: the rest is in the results
            str(a.requests),
            us(a.ttft_error_median_s),
            us(a.ttft_error_p99_s),
            us(a.itl_error_median_s),
            us(a.itl_error_p99_s),
            escape(bound),
        )
    console.print(table)


# --- end of remote commands ---
