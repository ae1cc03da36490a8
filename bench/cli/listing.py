"""What is here: `workloads`, `backends`, `env` and the harness's `selfcheck`."""

from __future__ import annotations

from typing import Any

import click

from bench.cli import base
from bench.cli.base import escape


def _param_json(p: Any) -> dict[str, Any]:
    return {
        "name": p.name, "default": p.default, "type": p.kind.__name__, "unit": p.unit,
        "doc": p.doc, "choices": p.choices,
    }  # fmt: skip


def workload_rows() -> list[dict[str, Any]]:
    """Every workload: the local kernels, then the remote `chat` workload with its load."""
    from bench.core import workloads
    from bench.remote import chat

    rows = [
        {"name": s.name, "doc": s.doc, "presets": list(s.presets), "where": "local",
         "params": [_param_json(p) for p in s.params]}
        for s in workloads.all_specs()
    ]  # fmt: skip
    rows.append(
        {
            "name": chat.WORKLOAD,
            "doc": "streamed chat completions against an OpenAI-compatible endpoint",
            "presets": [],
            "where": "remote",
            "params": [_param_json(p) for p in (*chat.CHAT_PARAMS, *chat.LOAD_PARAMS)],
        }
    )
    return rows


@click.command("workloads")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def workloads_cmd(as_json: bool) -> None:
    """List workloads with their parameters, defaults and units."""
    rows = workload_rows()
    if as_json:
        base.emit_json(rows)
        return
    from rich.table import Table

    table = Table(title="workloads", title_justify="left")
    for col in ("name", "what", "parameters (default)", "presets"):
        table.add_column(col)
    for r in rows:
        params = ", ".join(
            f"{p['name']}={p['default']!r}" if p["type"] == "str" else f"{p['name']}={p['default']}"
            for p in r["params"]
        )
        table.add_row(r["name"], escape(r["doc"]), escape(params), ", ".join(r["presets"]) or "-")
    base.out().print(table)


@click.command("backends")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backends_cmd(as_json: bool) -> None:
    """List backends: available here (✓) or not (✗, with the reason)."""
    import dataclasses

    from bench.app.runs import backend_statuses

    rows = backend_statuses()
    if as_json:
        base.emit_json([dataclasses.asdict(r) for r in rows])
        return
    from rich.table import Table

    table = Table(title="backends", title_justify="left")
    for col in ("", "name", "kind", "reason / note"):
        table.add_column(col)
    for r in rows:
        mark = "[green]✓[/]" if r.available else "[red]✗[/]"
        table.add_row(mark, r.name, "local" if r.local else "remote", escape(r.reason))
    base.out().print(table)


@click.command("env")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def env_cmd(as_json: bool) -> None:
    """Show this machine's environment fingerprint (what every results file records)."""
    from bench.core import fingerprint
    from bench.report import table as report

    fp = fingerprint.collect()
    if as_json:
        base.emit_json(fp)
        return
    base.out().print(report.key_value_table("environment", report.flatten(fp)))


@click.command("selfcheck")
@click.option(
    "--gemm-size", default=2048, show_default=True, type=click.IntRange(min=0),
    help="GEMM size for the GFLOP/s check (0 skips it).",
)  # fmt: skip
def selfcheck_cmd(gemm_size: int) -> None:
    """The harness measures itself: clock, overhead vs timeit, busy-wait accuracy, GEMM agreement."""
    from bench.report.table import fmt_time, key_value_table
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
        error = f"{fmt_time(w.median_s)} (error {100 * w.error:+.3f}%)"
        rows.append((f"busy-wait {fmt_time(w.target_s)}: median", error))
    if gemm_size:
        g = selfcheck.gemm_agreement(gemm_size)
        rows.append(
            (
                f"numpy fp32 GEMM {g.size}: harness / hand loop",
                f"{g.harness_gflops:.1f} / {g.hand_gflops:.1f} GFLOP/s "
                f"(ratio {g.harness_gflops / g.hand_gflops:.3f})",
            )
        )
    base.out().print(key_value_table("selfcheck", rows))
