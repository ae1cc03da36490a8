"""Tables and summary lines for remote streaming (chat) cases: latency, throughput, faults, client health."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape
from rich.table import Table

from bench.core.records import CaseResult, StreamSummary
from bench.core.stats import Summary
from bench.report.table import fmt_num, fmt_time


def is_remote(case: CaseResult) -> bool:
    return case.stream is not None or case.workload == "chat"


def _p(s: Summary | None, which: str) -> str:
    return fmt_time(getattr(s, which)) if s is not None else "-"


def _rate(value: float | None, unit: str) -> str:
    return f"{fmt_num(value)} {unit}" if value is not None else "-"


def remote_table(cases: Iterable[CaseResult], title: str = "remote streaming") -> Table:
    """One row per chat case: latency percentiles, throughput, goodput, client health."""
    table = Table(title=title, title_justify="left")
    heads = ("case", "ok/failed", "TTFT p50", "TTFT p99", "ITL p50", "TPOT p50", "speed")
    for col in (*heads, "req/s", "tok/s", "goodput", "client"):
        table.add_column(col, justify="left" if col in ("case", "client") else "right")
    for case in cases:
        s = case.stream
        if s is None:
            table.add_row(
                escape(case.case_id), "[bold red]failed[/]", *["-"] * 8, escape(case.reason)
            )
            continue
        table.add_row(
            escape(case.case_id),
            f"{s.requests_ok}/{s.requests_failed}",
            _p(s.ttft, "median_s"),
            _p(s.ttft, "p99_s"),
            _p(s.itl, "median_s"),
            _p(s.tpot, "median_s"),
            _rate(s.output_speed_tokens_per_s.get("median"), "tok/s"),
            fmt_num(s.requests_per_s),
            fmt_num(s.output_tokens_per_s),
            _goodput(s),
            _client(s),
        )
    return table


def _goodput(s: StreamSummary) -> str:
    if s.goodput_fraction is None:
        return "-"
    return f"{fmt_num(s.goodput_requests_per_s)}/s ({100 * s.goodput_fraction:.0f}%)"


def _client(s: StreamSummary, markup: bool = True) -> str:
    cpu = f"{s.client_cpu_cores:.2f} cores" if s.client_cpu_cores is not None else "? cores"
    lag = f"lag p99 {fmt_time(s.loop_lag_p99_s)}" if s.loop_lag_p99_s is not None else ""
    flag = " [bold yellow]CLIENT-BOUND[/]" if markup else " CLIENT-BOUND"
    flag = flag if s.client_bound else ""
    return f"{cpu}, {s.client_rss_mb or 0:.0f} MB, {lag}{flag}"


def failure_lines(case: CaseResult) -> list[str]:
    """One line per failure kind: count and the first message, plus rate-limit headers seen."""
    s = case.stream
    if s is None:
        return [f"{case.case_id}: {case.reason}"] if case.reason else []
    lines = [
        f"{case.case_id}: {count} × {kind}: {s.failure_examples.get(kind, '')}"
        for kind, count in sorted(s.failures.items(), key=lambda kv: -kv[1])
    ]
    if s.retry_after_s is not None or s.rate_limits:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(s.rate_limits.items()))
        lines.append(f"{case.case_id}: rate limits: retry-after {s.retry_after_s} s; {shown}")
    return lines


def summary_line(case: CaseResult) -> str:
    """The case in one line, as the closing summary prints it."""
    s = case.stream
    if s is None:
        return f"{case.case_id}: {case.status}: {case.reason}"
    window = (s.window_end_ns - s.window_start_ns) / 1e9
    return (
        f"{case.case_id}: {s.requests_ok} ok, {s.requests_failed} failed"
        f" ({', '.join(f'{k} {v}' for k, v in s.failures.items()) or 'no failures'});"
        f" stopped by {s.stopped_by or '?'}; TTFT p50 {_p(s.ttft, 'median_s')}"
        f" p99 {_p(s.ttft, 'p99_s')}; ITL p50 {_p(s.itl, 'median_s')};"
        f" {_rate(s.requests_per_s, 'req/s')}, {_rate(s.output_tokens_per_s, 'tok/s')}"
        f" over a {window:.2f} s steady window; client {_client(s, markup=False)}"
    )
