"""The accelbench command line: thin click commands, the one place that prints or exits."""

from __future__ import annotations

import dataclasses
import json
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
from bench import config as configmod
from bench import fingerprint, records, store, workloads
from bench.errors import BenchError, ConfigError
from bench.report import table as report
from bench.runner.clock import wall_iso
from bench.runner.local import LocalSession

# Logs and pipes get a wide page: an 80-column default would fold every table row.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)
EXIT_FAILED_CASES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
@handle_errors
def show_cmd(results: Path, as_json: bool) -> None:
    """Re-render a stored run."""
    record = store.load(results)
    if as_json:
        emit_json(records.to_dict(record))
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
    console.print(f"results: [bold]{path}[/]", highlight=False)


def default_config() -> Path:
    for candidate in (Path("configs/default.toml"), PROJECT_ROOT / "configs" / "default.toml"):
        if candidate.exists():
            return candidate
    raise ConfigError("configs/default.toml not found: pass a CONFIG file or -w WORKLOAD")


def build_suite(
    configs: Sequence[Path], workload: str | None, params: dict[str, list[str]]
) -> configmod.Suite:
    """Suites from files (the first one's run settings lead), or one from -w and -p."""
    if not configs and workload:
        spec = workloads.get(workload)
        for key in params:
            spec.param(key)
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
    for name in requested or suite.backends or ():
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
    """Run CONFIG suites (default: configs/default.toml) on every available local backend."""
    param_map = parse_pairs(params, "-p")
    suite = build_suite(configs, workload, param_map)
    chosen = choose_backends(backends, suite)
    opts = {**suite.backend_options, **backend_options(parse_pairs(bopts, "--backend-opt"), chosen)}
    if input_sets is not None and input_sets < 1:
        raise ConfigError(f"--input-sets {input_sets}: must be at least 1")
    suite = dataclasses.replace(
        suite, backend_options=opts, input_sets=input_sets or suite.input_sets
    )
    planned = configmod.expand(suite, chosen, quick, scenario, param_map)
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
    run_id = f"{stamp.replace(':', '').replace('-', '')[:15]}-{uuid.uuid4().hex[:6]}"
    resolved = {
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
    described = {}
    for name in chosen:
        info = registry.create(name).describe()
        described[name] = {"version": info.version, "device": info.device, **info.details}
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
