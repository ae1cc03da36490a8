"""Tables and summary lines for remote streaming (chat) cases: latency, throughput, faults, client health."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table

from bench.core.records import CaseResult, StreamSummary
from bench.core.stats import Summary
from bench.report.fit import Column, render
from bench.report.table import fmt_in, fmt_num, fmt_time, time_unit


def is_remote(case: CaseResult) -> bool:
    return case.stream is not None or case.workload == "chat"


def _p(s: Summary | None, which: str) -> str:
    return fmt_time(getattr(s, which)) if s is not None else "-"


def _rate(value: float | None, unit: str) -> str:
    return f"{fmt_num(value)} {unit}" if value is not None else "-"


def _load(case: CaseResult) -> str:
    s = case.stream
    if s is None:
        return case.case_id.rsplit("/", 1)[-1]
    return f"rate {s.rate_target_per_s:g}/s" if s.mode == "rate" else f"concurrency {s.concurrency}"


def remote_table(
    cases: Sequence[CaseResult], title: str = "remote streaming", width: int | None = None
) -> Table:
    """One row per chat case: latency percentiles, throughput, goodput, client health; at
    `width`, the low-priority columns give way first (one time unit per column)."""
    ss = [c.stream for c in cases]
    unit, scale = time_unit(s.ttft.median_s if s and s.ttft else None for s in ss)

    def times(header: str, which: str, stat: str, priority: int) -> Column:
        values = [getattr(getattr(s, which), stat) if s and getattr(s, which) else None for s in ss]
        return Column(f"{header} {unit}", [fmt_in(v, scale) for v in values], priority, "right")

    def num(header: str, values: Iterable[str], priority: int) -> Column:
        return Column(header, list(values), priority, "right")

    failed = [
        "" if s is not None else f"failed: {c.reason}" for s, c in zip(ss, cases, strict=True)
    ]
    columns = [
        Column("#", [str(i) for i in range(1, len(cases) + 1)], 0, "right"),
        Column("backend", [c.backend for c in cases], 1),
        Column("load", [_load(c) for c in cases], 2),
        num("ok/failed", (f"{s.requests_ok}/{s.requests_failed}" if s else "-" for s in ss), 3),
        times("TTFT p50", "ttft", "median_s", 4),
        times("TTFT p99", "ttft", "p99_s", 7),
        times("ITL p50", "itl", "median_s", 6),
        times("TPOT p50", "tpot", "median_s", 11),
        num(
            "tok/s/req",
            (fmt_num(s.output_speed_tokens_per_s.get("median")) if s else "-" for s in ss),
            9,
        ),
        num("req/s", (fmt_num(s.requests_per_s) if s else "-" for s in ss), 5),
        num("tok/s", (fmt_num(s.output_tokens_per_s) if s else "-" for s in ss), 10),
        num("goodput", (_goodput(s) if s else "-" for s in ss), 8),
        Column(
            "client",
            [_client(s, markup=False) if s else "" for s in ss],
            12,
            wrap=True,
            min_width=14,
        ),
        Column("status", failed, 3, wrap=True, min_width=14, styles=["bold red"] * len(cases)),
    ]
    return render(title, columns, width)


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
