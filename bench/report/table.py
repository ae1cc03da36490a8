"""Terminal tables of runs, workloads, backends and fingerprints (rich)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.core import workloads
from bench.core.errors import BenchError
from bench.core.records import CaseResult, RunRecord

_STATUS_STYLE = {"ok": "green", "failed": "bold red", "unsupported": "yellow"}


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value:.3e}"
    return f"{value:.{digits}g}" if value < 1000 else f"{value:,.0f}"


def short_params(params: Mapping[str, Any], workload: str = "") -> str:
    """The params a reader needs: a matching preset's name, then values off the defaults."""
    shown = {k: v for k, v in params.items() if v not in ("", None)}
    try:
        spec = workloads.get(workload)
    except BenchError:  # not a local array workload (e.g. a remote one): show everything
        return " ".join(f"{k}={v}" for k, v in shown.items())
    base = {p.name: p.default for p in spec.params}
    head = []
    for name, preset in spec.presets.items():
        if all(shown.get(k) == v for k, v in preset.items()):
            base.update(preset)
            head = [f"preset={name}"]
            break
    rest = [f"{k}={v}" for k, v in shown.items() if k == "dtype" or base.get(k) != v]
    return " ".join(head + rest)


def rate(case: CaseResult, unit: str | None = None) -> str:
    """GFLOP/s for compute-bound workloads, GB/s where no FLOP count is meaningful; with `unit`
    given (one per workload of a table), that unit always, and '-' where it is unknown."""
    if unit == "GFLOP/s" or (unit is None and _compute_bound(case)):
        return f"{fmt_num(case.gflops_per_s)} GFLOP/s" if case.gflops_per_s is not None else "-"
    if case.gb_per_s is not None:
        return f"{fmt_num(case.gb_per_s)} GB/s"
    return fmt_num(case.gflops_per_s) + " GFLOP/s" if case.gflops_per_s and unit is None else "-"


def _compute_bound(case: CaseResult) -> bool:
    return case.gflops_per_s is not None and (case.intensity_flop_per_byte or 0) >= 1


def rate_units(cases: Iterable[CaseResult]) -> dict[str, str]:
    """One rate unit per workload, so a sweep never flips between GFLOP/s and GB/s: GFLOP/s
    when any of its cases is compute-bound, else GB/s."""
    units: dict[str, str] = {}
    for c in cases:
        if _compute_bound(c):
            units[c.workload] = "GFLOP/s"
        else:
            units.setdefault(c.workload, "GB/s")
    return units


_NUMERIC = ("median", "p99", "throughput", "rate", "rel err")


def results_table(record: RunRecord, title: str | None = None) -> Table:
    table = Table(title=title or f"run {record.run_id} ({record.state})", title_justify="left")
    table.add_column("#", justify="right")
    for col in ("workload", "params", "backend", *_NUMERIC, "status"):
        numeric = col in _NUMERIC
        table.add_column(
            col, justify="right" if numeric else "left", no_wrap=col != "params" and col != "status"
        )
    units = rate_units(record.cases)
    for i, c in enumerate(record.cases, 1):
        s = c.stats
        status = escape(c.status if c.status == "ok" else f"{c.status}: {c.reason}")
        table.add_row(
            str(i),
            c.workload,
            escape(short_params(c.params, c.workload)),
            c.backend,
            fmt_time(s.median_s if s else None),
            fmt_time(s.p99_s if s else None),
            f"{fmt_num(c.throughput_per_s)}/s" if c.throughput_per_s else "-",
            rate(c, units[c.workload]),
            f"{c.rel_error:.1e}" if c.rel_error is not None else "-",
            f"[{_STATUS_STYLE[c.status]}]{status}[/]",
        )
    return table


def warnings_of(record: RunRecord) -> list[str]:
    """One line per kind of caution, naming the case numbers it applies to."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for i, c in enumerate(record.cases, 1):
        for w in c.warnings:
            by_kind[w.partition(": ")[2]].append(f"#{i}")  # the advice part is the same per kind
    return [f"{kind} — {' '.join(cases)}" for kind, cases in by_kind.items()]


def key_value_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows
