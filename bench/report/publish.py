"""A published report's content, once: sections of tables and plots that HTML and Markdown render."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.core import run_info
from bench.core.records import CaseResult, RunRecord, StreamSummary
from bench.core.stats import Summary
from bench.gate.decide import CaseVerdict, Verdict, flatten
from bench.report.table import (
    fmt_in,
    fmt_num,
    rate_units,
    rates,
    status_text,
    time_unit,
    varying_params,
)  # fmt: skip


@dataclass(frozen=True)
class Table:
    """A titled table of plain-text cells; `numeric` columns align right."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()
    code: frozenset[int] = frozenset()  # columns shown as code (commands)


@dataclass(frozen=True)
class Plot:
    """A PNG and the words a reader without it needs."""

    title: str
    name: str  # a file stem, unique in the report
    png: bytes
    alt: str


@dataclass(frozen=True)
class Report:
    title: str
    intro: tuple[str, ...]
    blocks: tuple[Table | Plot, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Col:
    """One column while a table is built: header, cells, alignment, and whether it may go."""

    header: str
    cells: Sequence[str]
    numeric: bool = False
    optional: bool = False  # dropped when no cell has a value

    def blank(self) -> bool:
        return all(c in ("", "-") for c in self.cells)


def build(
    title: str, cols: Sequence[Col], notes: Sequence[str] = (), code: Sequence[str] = ()
) -> Table:
    """A Table from its columns, the optional ones with nothing to say left out."""
    kept = [c for c in cols if not (c.optional and c.blank())]
    rows = tuple(zip(*(c.cells for c in kept), strict=True)) if kept else ()
    numeric = frozenset(i for i, c in enumerate(kept) if c.numeric)
    shown_as_code = frozenset(i for i, c in enumerate(kept) if c.header in code)
    return Table(title, tuple(c.header for c in kept), rows, numeric, tuple(notes), shown_as_code)


def _runs_col(
    runs: Sequence[RunRecord], pairs: Sequence[tuple[RunRecord, CaseResult]]
) -> list[Col]:
    """The run column, only when the table holds more than one run."""
    return [Col("run", [r.run_id for r, _ in pairs])] if len(runs) > 1 else []


def speedup_text(verdict: CaseVerdict | None) -> str:
    """What the gate's interval supports: a speed-up or slow-down with its interval, or why not."""
    if verdict is None:
        return ""
    est = verdict.estimate
    # the estimate is the time ratio new/base with its interval; a speed-up is its inverse
    if verdict.verdict is Verdict.IMPROVED and est is not None:
        slow_end = 1 / est.ratio_low if est.ratio_low > 0 else math.inf
        return f"{1 / est.ratio:.2f}x faster [{1 / est.ratio_high:.2f}, {slow_end:.2f}]"
    if verdict.verdict is Verdict.REGRESSION and est is not None:
        return f"{est.ratio:.2f}x slower [{est.ratio_low:.2f}, {est.ratio_high:.2f}]"
    if verdict.verdict is Verdict.PASS:
        return "no change shown (within tolerance)"
    if verdict.verdict is Verdict.INCONCLUSIVE:
        return "inconclusive"
    return "not compared"


def _is_local(c: CaseResult) -> bool:
    return c.stream is None and c.workload != "chat"


_BASELINE_NOTE = (
    "vs baseline: the gate's ratio of medians with its interval (bootstrap of both runs); a "
    "speed-up or slow-down is stated only where the interval clears the effect floor."
)


def local_table(
    runs: Sequence[RunRecord],
    vs_base: Mapping[tuple[str, str], CaseVerdict],
    baseline: str | None,
    ceilings: Mapping[tuple[str, str], float],
) -> Table | None:
    """Every local case of every run: median with its interval, p99, rates, % of ceiling,
    and against the baseline run only what the gate's interval supports."""
    numbered = [(r, i, c) for r in runs for i, c in enumerate(r.cases, 1) if _is_local(c)]
    if not numbered:
        return None
    pairs = [(r, c) for r, _, c in numbered]
    cases, stats = [c for _, c in pairs], [c.stats for _, c in pairs]
    unit, scale = time_unit(s.median_s if s else None for s in stats)
    units = rate_units(cases)
    gflops, gbs = zip(*(rates(c, units[c.workload]) for c in cases), strict=True)
    fracs = [ceilings.get((r.run_id, c.case_id)) for r, c in pairs]
    cols = [
        *_runs_col(runs, pairs),
        Col("#", [f"#{i}" for _, i, _ in numbered]),
        Col("workload", [c.workload for c in cases]),
        Col("params", varying_params(cases)),
        Col("backend", [c.backend for c in cases]),
        Col(f"median {unit}", [fmt_in(s.median_s if s else None, scale) for s in stats], True),
        Col(f"interval {unit}", [_interval(s, scale) for s in stats], True),
        Col(f"p99 {unit}", [fmt_in(s.p99_s if s else None, scale) for s in stats], True),
        Col("per s", [fmt_num(c.throughput_per_s) for c in cases], True, True),
        Col("GFLOP/s", [fmt_num(v) for v in gflops], True, True),
        Col("GB/s", [fmt_num(v) for v in gbs], True, True),
        Col("% ceiling", [f"{100 * f:.0f}%" if f else "-" for f in fracs], True, True),
        Col("status", [status_text(c) for c in cases]),
    ]
    notes = ["interval: the stored confidence interval of the median; # numbers the plots' lines."]
    if baseline is not None:
        cells = [
            "baseline" if r.run_id == baseline else speedup_text(vs_base.get((r.run_id, c.case_id)))
            for r, c in pairs
        ]
        cols.append(Col(f"vs {baseline}", cells))
        notes.append(_BASELINE_NOTE)
    return build("local cases", cols, notes)


def _interval(s: Summary | None, scale: float) -> str:
    return f"[{fmt_in(s.ci_low_s, scale)}, {fmt_in(s.ci_high_s, scale)}]" if s else "-"


def _load(c: CaseResult) -> str:
    s = c.stream
    if s is None:
        return "-"
    return f"rate {s.rate_target_per_s:g}/s" if s.mode == "rate" else f"concurrency {s.concurrency}"


_SPLIT = (
    ("network+client", None),
    ("queue", "queue_s"),
    ("prefill", "prompt_s"),
    ("decode", "completion_s"),
)


def server_split(c: CaseResult) -> dict[str, float | None]:
    """Median per part of the latency: the client's TTFT minus the server's queue and prompt
    time (network + client), then the vendor's own queue, prefill and decode times."""
    done = [r for r in c.requests if r.status == "ok" and not r.warmup]
    out: dict[str, float | None] = {}
    for name, key in _SPLIT:
        values = [r.network_client_s if key is None else r.server_timings_s.get(key) for r in done]
        present = sorted(v for v in values if v is not None)
        out[name] = present[len(present) // 2] if present else None
    return out


def _stat(summary: Summary | None, name: str) -> float | None:
    return getattr(summary, name) if summary is not None else None


def _goodput(s: StreamSummary | None) -> str:
    if s is None or s.goodput_fraction is None:
        return "-"
    return f"{fmt_num(s.goodput_requests_per_s)}/s ({100 * s.goodput_fraction:.0f}%)"


def remote_table(runs: Sequence[RunRecord]) -> Table | None:
    """Every remote (chat) case: TTFT p50/p90/p99, ITL, output speed, E2E, goodput per load,
    and the network / queue / prefill / decode split where the server reports its timings."""
    pairs = [(r, c) for r in runs for c in r.cases if not _is_local(c)]
    if not pairs:
        return None
    cases = [c for _, c in pairs]
    ss = [c.stream for c in cases]
    unit, scale = time_unit(_stat(s.ttft if s else None, "median_s") for s in ss)

    def times(header: str, values: Sequence[float | None], optional: bool = False) -> Col:
        return Col(f"{header} {unit}", [fmt_in(v, scale) for v in values], True, optional)

    splits = [server_split(c) for c in cases]
    cols = [
        *_runs_col(runs, pairs),
        Col("backend", [c.backend for c in cases]),
        Col("load", [_load(c) for c in cases]),
        Col("ok/failed", [f"{s.requests_ok}/{s.requests_failed}" if s else status_text(c) for s, c in zip(ss, cases, strict=True)], True),
        *(times(f"TTFT {q}", [_stat(s.ttft if s else None, k) for s in ss]) for q, k in (("p50", "median_s"), ("p90", "p90_s"), ("p99", "p99_s"))),
        times("ITL p50", [_stat(s.itl if s else None, "median_s") for s in ss]),
        Col("output tok/s", [fmt_num(s.output_speed_tokens_per_s.get("median")) if s else "-" for s in ss], True),
        times("E2E p50", [_stat(s.e2e if s else None, "median_s") for s in ss]),
        Col("req/s", [fmt_num(s.requests_per_s) if s else "-" for s in ss], True),
        Col("goodput", [_goodput(s) for s in ss], True),
        *(times(f"{name} p50", [sp[name] for sp in splits], optional=True) for name, _ in _SPLIT),
    ]  # fmt: skip
    notes = (
        "goodput: requests per second that met the TTFT and TPOT bounds (share of all); "
        "output tok/s: the median request's tokens after the first over its decode time.",
        "network+client, queue, prefill, decode: medians over requests, from the server's own "
        "timings where it reports them.",
    )
    return build("remote cases", cols, notes)


def fingerprint_table(runs: Sequence[RunRecord]) -> Table:
    """The environment of every run side by side, one column each; differing rows marked."""
    flat = [flatten({**dict(r.fingerprint), "backends": dict(r.backends)}) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows = []
    for key in keys:
        values = [_value(f.get(key)) for f in flat]
        mark = "differs" if len(set(values)) > 1 else ""
        rows.append((key, *values, mark) if len(runs) > 1 else (key, *values))
    headers = ("entry", *(r.run_id for r in runs), *(("",) if len(runs) > 1 else ()))
    return Table("environment", headers, tuple(rows))


def _value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)


def commands_table(runs: Sequence[RunRecord]) -> Table:
    """Each run and the command that reproduces it."""
    cols = [
        Col("run", [r.run_id for r in runs]),
        Col("when", [r.created_at[:19].replace("T", " ") for r in runs]),
        Col("kind", [run_info.kind(r) for r in runs]),
        Col("commit", [run_info.short_commit(r) for r in runs]),
        Col("command", [run_info.command(r) or "-" for r in runs]),
    ]
    return build("runs and the commands that reproduce them", cols, code=("command",))
