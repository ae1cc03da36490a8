"""Terminal tables of runs, workloads, backends and fingerprints (rich)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table

from bench.core import workloads
from bench.core.errors import BenchError
from bench.core.records import CaseResult, RunRecord
from bench.report.fit import Column, render

_STATUS_STYLE = {"ok": "green", "failed": "bold red", "unsupported": "yellow"}


_TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in _TIME_UNITS[:-1]:
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def time_unit(values: Iterable[float | None]) -> tuple[str, float]:
    """One unit for a whole column: the one in which the column's middle value reads 1-999."""
    present = sorted(v for v in values if v is not None and v > 0)
    if not present:
        return "s", 1.0
    middle = present[len(present) // 2]
    return next(((u, f) for u, f in _TIME_UNITS if middle >= f), _TIME_UNITS[-1])


def fmt_in(seconds: float | None, scale: float) -> str:
    """A time in the column's unit (the unit sits in the header)."""
    return "-" if seconds is None else fmt_num(seconds / scale)


def fmt_num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value:.3e}"
    return f"{value:.{digits}g}" if value < 1000 else f"{value:,.0f}"


def _value(value: Any) -> str:
    """A param as a table shows it: a file path by its name (the full path is in the JSON)."""
    text = str(value)
    return text.rsplit("/", 1)[-1] if "/" in text else text


def short_params(params: Mapping[str, Any], workload: str = "") -> str:
    """The params a reader needs: a matching preset's name, then values off the defaults."""
    shown = {k: v for k, v in params.items() if v not in ("", None)}
    try:
        spec = workloads.get(workload)
    except BenchError:  # not a local array workload (e.g. a remote one): show everything
        return " ".join(f"{k}={_value(v)}" for k, v in shown.items())
    base = {p.name: p.default for p in spec.params}
    head = []
    for name, preset in spec.presets.items():
        if all(shown.get(k) == v for k, v in preset.items()):
            base.update(preset)
            head = [f"preset={name}"]
            break
    rest = [f"{k}={_value(v)}" for k, v in shown.items() if k == "dtype" or base.get(k) != v]
    return " ".join(head + rest)


def varying_params(cases: Sequence[CaseResult]) -> list[str]:
    """Per case, the params that tell it apart from the other cases of its workload — a
    default value included when another case changes it; a workload measured at one set of
    params shows what is off its defaults instead."""
    by_workload: dict[str, list[CaseResult]] = defaultdict(list)
    for c in cases:
        by_workload[c.workload].append(c)
    varying: dict[str, list[str]] = {}
    for name, group in by_workload.items():
        keys = dict.fromkeys(k for c in group for k in c.params)
        varying[name] = [k for k in keys if len({repr(c.params.get(k)) for c in group}) > 1]
    return [
        " ".join(f"{k}={_value(c.params.get(k))}" for k in varying[c.workload])
        if varying[c.workload]
        else short_params(c.params, c.workload)
        for c in cases
    ]


def rates(case: CaseResult, unit: str | None = None) -> tuple[float | None, float | None]:
    """(GFLOP/s, GB/s) with only the one that describes the case filled in: `unit` (one per
    workload, from rate_units) when given, so a sweep stays in one column."""
    unit = unit or ("GFLOP/s" if _compute_bound(case) else "GB/s")
    if unit == "GFLOP/s":
        return case.gflops_per_s, None
    return None, case.gb_per_s


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


def status_text(c: CaseResult) -> str:
    return c.status if c.status == "ok" else f"{c.status}: {c.reason}"


def result_columns(cases: Sequence[CaseResult]) -> list[Column]:
    """The results table's columns, each in one unit, with its keep-priority."""
    unit, scale = time_unit(c.stats.median_s if c.stats else None for c in cases)
    medians = [fmt_in(c.stats.median_s if c.stats else None, scale) for c in cases]
    p99s = [fmt_in(c.stats.p99_s if c.stats else None, scale) for c in cases]
    units = rate_units(cases)
    gflops, gbs = (
        zip(*(rates(c, units[c.workload]) for c in cases), strict=True) if cases else ((), ())
    )
    errors = [f"{c.rel_error:.1e}" if c.rel_error is not None else "-" for c in cases]
    styles = [_STATUS_STYLE[c.status] for c in cases]
    return [
        Column("#", [str(i) for i in range(1, len(cases) + 1)], 0, "right"),
        Column("workload", [c.workload for c in cases], 1),
        Column("params", varying_params(cases), 5, wrap=True, min_width=14),
        Column("backend", [c.backend for c in cases], 2),
        Column(f"median {unit}", medians, 3, "right"),
        Column(f"p99 {unit}", p99s, 9, "right"),
        Column("per s", [fmt_num(c.throughput_per_s) for c in cases], 8, "right"),
        Column("GFLOP/s", [fmt_num(v) for v in gflops], 6, "right"),
        Column("GB/s", [fmt_num(v) for v in gbs], 7, "right"),
        Column("rel err", errors, 10, "right"),
        Column("status", [c.status for c in cases], 4, styles=styles),
    ]


def results_table(record: RunRecord, title: str | None = None, width: int | None = None) -> Table:
    """The run's cases, one row each; at `width`, low-priority columns give way first."""
    title = title or f"run {record.run_id} ({record.state})"
    return render(title, result_columns(record.cases), width)


def reasons_of(record: RunRecord) -> list[str]:
    """Why each case that did not pass did not: the table's status column has no room for it."""
    return [f"#{i} {status_text(c)}" for i, c in enumerate(record.cases, 1) if c.status != "ok"]


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
