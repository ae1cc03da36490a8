"""Plots of runs (matplotlib, Agg): latency CDFs, sample series, throughput curves, history."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.core.records import CaseResult, RunRecord
from bench.core.run_info import HistoryPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float = 7.0, height: float = 4.0, rows: int = 1) -> Figure:
    # The object API with the Agg canvas: no pyplot state, no display, safe in threads and CI.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def label(number: int, case: CaseResult) -> str:
    """'#3 gemm@numpy': the number matches the case's row in the tables."""
    return f"#{number} {case.workload}@{case.backend}"


def _sampled(record: RunRecord) -> list[tuple[int, CaseResult]]:
    return [
        (i, c)
        for i, c in enumerate(record.cases, 1)
        if c.status == "ok" and c.loops and c.sample_ns
    ]


def latency_cdf(record: RunRecord) -> Figure | None:
    """Per case, the empirical CDF of its per-call times (log x: cases differ by decades)."""
    cases = _sampled(record)
    if not cases:
        return None
    fig = _figure(width=9.0)
    ax = fig.add_subplot()
    for i, c in cases:
        xs = sorted(c.per_call_s())
        ys = [(k + 1) / len(xs) for k in range(len(xs))]
        ax.step(xs, ys, where="post", label=label(i, c))
    ax.set_xscale("log")
    ax.set(
        xlabel="time per call (s)",
        ylabel="fraction of samples",
        title=f"latency CDF, run {record.run_id}",
    )
    fig.legend(loc="outside right upper", fontsize="x-small")
    return fig


def sample_series(record: RunRecord) -> Figure | None:
    """Each case's samples in the order taken, over its median: drift and throttling show."""
    cases = _sampled(record)
    if not cases:
        return None
    fig = _figure(width=9.0)
    ax = fig.add_subplot()
    for i, c in cases:
        values = c.per_call_s()
        middle = sorted(values)[len(values) // 2]
        ax.plot(range(len(values)), [v / middle for v in values], marker=".", label=label(i, c))
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")  # a 100x outlier beside 1% drift: both stay readable
    ax.set(
        xlabel="sample", ylabel="time / case median", title=f"samples in order, run {record.run_id}"
    )
    fig.legend(loc="outside right upper", fontsize="x-small")
    return fig


@dataclass(frozen=True)
class Curve:
    """One series of a sweep: x (batch, concurrency or target rate) against y."""

    name: str
    x_label: str
    xs: tuple[float, ...]
    throughput: tuple[float, ...]
    ttft_s: tuple[float | None, ...] = ()


def knee(xs: Sequence[float], ys: Sequence[float]) -> int | None:
    """The index where more load stops paying (kneedle: the point farthest above the chord
    from the first to the last point, both axes scaled to 0..1); None under three points."""
    if len(xs) < 3 or max(ys) == min(ys) or max(xs) == min(xs):
        return None
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    gaps = [(y - y0) / (y1 - y0) - (x - x0) / (x1 - x0) for x, y in zip(xs, ys, strict=True)]
    best = max(range(len(gaps)), key=lambda i: gaps[i])
    return best if gaps[best] > 0 else None


def sweep_curves(record: RunRecord) -> list[Curve]:
    """Remote sweeps by concurrency or rate; local cases that differ only in batch."""
    groups: dict[tuple[Any, ...], list[tuple[float, float, float | None]]] = defaultdict(list)
    names: dict[tuple[Any, ...], tuple[str, str]] = {}
    for c in record.cases:
        point = _point(c)
        if point is None:
            continue
        key, name, x_label, x, y, ttft = point
        groups[key].append((x, y, ttft))
        names[key] = (name, x_label)
    curves = []
    for key, points in groups.items():
        points.sort()
        if len({p[0] for p in points}) < 2:
            continue
        xs, ys, ttfts = zip(*points, strict=True)
        curves.append(Curve(names[key][0], names[key][1], xs, ys, ttfts))
    return curves


def _point(c: CaseResult) -> tuple[tuple[Any, ...], str, str, float, float, float | None] | None:
    s = c.stream
    if s is not None and s.output_tokens_per_s is not None:
        by_rate = s.mode == "rate"
        x = s.rate_target_per_s if by_rate else s.concurrency
        x_label = "target rate (req/s)" if by_rate else "concurrency"
        key: tuple[Any, ...] = ("remote", c.backend, repr(sorted(c.params.items())), s.mode)
        ttft = s.ttft.median_s if s.ttft else None
        return key, f"{c.backend} output tok/s", x_label, float(x), s.output_tokens_per_s, ttft
    if c.status == "ok" and c.throughput_per_s and "batch" in c.params:
        rest = repr(sorted((k, v) for k, v in c.params.items() if k != "batch"))
        key = ("local", c.workload, c.backend, c.scenario, rest)
        name = f"{c.workload}@{c.backend} per s"
        return (
            key,
            name,
            "batch",
            float(c.params["batch"]),
            c.throughput_per_s,
            c.stats.median_s if c.stats else None,
        )
    return None


def throughput_curve(curve: Curve) -> Figure:
    """Throughput against load with the knee marked; TTFT (or latency) beneath it."""
    fig = _figure(rows=2, height=3.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(curve.xs, curve.throughput, marker="o", label=curve.name)
    at = knee(curve.xs, curve.throughput)
    if at is not None:
        top.plot([curve.xs[at]], [curve.throughput[at]], "r*", markersize=14, label="knee")
        top.annotate(f"knee at {curve.xs[at]:g}", (curve.xs[at], curve.throughput[at]))
    top.set(ylabel="throughput (per s)", title=curve.name)
    top.legend(fontsize="small")
    shown = [(x, t) for x, t in zip(curve.xs, curve.ttft_s, strict=False) if t is not None]
    if shown:
        bottom.plot([x for x, _ in shown], [t for _, t in shown], marker="o", color="tab:orange")
    bottom.set(xlabel=curve.x_label, ylabel="TTFT / latency p50 (s)")
    return fig


def history(case_id: str, points: Sequence[HistoryPoint]) -> Figure:
    """A case's median (with its interval) across runs in time order, commits on the axis;
    the runs where the gate found a change are marked."""
    fig = _figure(width=8.0)
    ax = fig.add_subplot()
    xs = list(range(len(points)))
    ys = [p.median_s for p in points]
    low = [p.median_s - (p.ci_low_s if p.ci_low_s is not None else p.median_s) for p in points]
    high = [(p.ci_high_s if p.ci_high_s is not None else p.median_s) - p.median_s for p in points]
    ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label="median (CI)")
    for change, style in (("REGRESSION", "rv"), ("IMPROVED", "g^")):
        marked = [i for i, p in enumerate(points) if p.change == change]
        if marked:
            ax.plot(marked, [ys[i] for i in marked], style, markersize=12, label=change.lower())
    ax.set_xticks(xs, [p.commit for p in points], rotation=45, ha="right", fontsize="small")
    ax.set(xlabel="commit (runs in time order)", ylabel="median time per call (s)", title=case_id)
    ax.legend(fontsize="small")
    return fig


@dataclass(frozen=True)
class Roof:
    """One dtype's ceilings on a device: peak FLOP/s and memory bytes/s (either may be unknown)."""

    dtype: str
    peak_flops_per_s: float | None
    bytes_per_s: float | None

    def at(self, intensity: float) -> float:
        bounds = [
            b
            for b in (self.peak_flops_per_s, self.bytes_per_s and intensity * self.bytes_per_s)
            if b
        ]
        return min(bounds) if bounds else 0.0


def roofs_of(record: RunRecord, ceilings: Sequence[Any]) -> list[Roof]:
    """The measured roofs for each dtype the run's compute cases used that has a calibrated
    matrix peak (the best any backend reached on the device, as the % of ceiling column uses)."""
    from bench.claims.ceilings import machine_peak

    seen = {
        (c.backend, str(c.params.get("dtype", "")))
        for c in record.cases
        if c.intensity_flop_per_byte
    }
    roofs: dict[str, Roof] = {}
    for backend, dtype in sorted(seen):
        matrix = machine_peak(ceilings, backend, "matrix", dtype)
        memory = machine_peak(ceilings, backend, "memory")
        if matrix is not None:  # without a matrix peak the roof has no flat top to draw
            roofs.setdefault(
                dtype,
                Roof(dtype, matrix.per_s if matrix else None, memory.per_s if memory else None),
            )
    return list(roofs.values())


def roofline(record: RunRecord, roofs: Sequence[Roof]) -> Figure | None:
    """Each case at its arithmetic intensity against the calibrated roofs (log-log)."""
    cases = [
        (i, c)
        for i, c in enumerate(record.cases, 1)
        if c.status == "ok" and c.intensity_flop_per_byte and c.gflops_per_s
    ]
    if not cases or not roofs:
        return None
    fig = _figure(width=9.0)
    ax = fig.add_subplot()
    xs = [float(c.intensity_flop_per_byte or 0) for _, c in cases]
    grid = [min(xs) / 4 * (16 * max(xs) / min(xs)) ** (k / 63) for k in range(64)]
    for roof in roofs:
        ax.plot(
            grid,
            [roof.at(x) / 1e9 for x in grid],
            "--",
            label=f"roof {roof.dtype or '?'} (calibrated)",
        )
    for (i, c), x in zip(cases, xs, strict=True):
        ax.plot([x], [float(c.gflops_per_s or 0)], "o", label=label(i, c))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(
        xlabel="arithmetic intensity (FLOP/byte)",
        ylabel="GFLOP/s",
        title=f"roofline, run {record.run_id}",
    )
    fig.legend(loc="outside right upper", fontsize="x-small")
    return fig
