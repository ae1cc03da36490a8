"""Chat metrics from raw stamps: per-request TTFT/ITL/TPOT/tokens, and a case's summary (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.core.records import RequestRecord, StreamStop, StreamSummary
from bench.core.stats import CONFIDENCE, Summary, median_ci_order, summarize
from bench.remote.chat import Load
from bench.remote.protocol import StreamContent
from bench.remote.wire import RequestFailed

Floats = Sequence[float] | npt.NDArray[np.float64]
_BOOTSTRAP_MAX = 5000  # above this many values the median's CI comes from order statistics


@dataclass(frozen=True)
class Stamps:
    """What the runner stamped for one request (absolute perf_counter_ns)."""

    scheduled_ns: int
    sent_ns: int | None
    headers_ns: int | None
    status: int
    read_delay_ns: int = 0
    kernel: bool = False
    sends: int = 1


@dataclass(frozen=True)
class ClientHealth:
    """How the client fared: CPU, memory, event-loop lag and send lag (rate mode)."""

    cpu_cores: float | None
    rss_mb: float | None
    lag_s: tuple[float, ...]
    send_lag_s: tuple[float, ...]
    read_delay_s: Floats = ()  # every kernel-stamped read: now minus arrival


# The token source when no usage came: stored as written, and matched whole.
CHUNK_COUNT = "content chunks (no usage: one token per chunk assumed)"


def _tokens(content: StreamContent) -> tuple[int | None, str]:
    """Output tokens from usage; otherwise the content-chunk count, and it says so."""
    if content.completion_tokens is not None:
        return content.completion_tokens, content.token_source or "usage"
    if content.content_ns:
        return len(content.content_ns), CHUNK_COUNT
    return None, "none"


def _failure(
    content: StreamContent, failure: RequestFailed | None, expected: str
) -> RequestFailed | None:
    if failure is not None:
        return failure
    if content.error is not None:
        return content.error
    if not content.content_ns:
        return RequestFailed("stream_cut", "the stream ended without any content")
    if not (content.finish_reason or content.terminated):  # ended, or only stopped?
        return RequestFailed(
            "truncated", "the stream ended with no finish_reason and no [DONE]: cut short"
        )
    if expected and expected not in "".join(content.text):
        return RequestFailed("canary", f"answer lacks the expected text {expected!r}")
    return None


def _rel(t: int | None, origin: int) -> int | None:
    return None if t is None else t - origin


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return float(headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _server_share(ttft_s: float, timings: Mapping[str, float]) -> float | None:
    """Client TTFT minus the server's own queue + prompt time: the network and client share."""
    if "queue_s" in timings and "prompt_s" in timings:
        return ttft_s - timings["queue_s"] - timings["prompt_s"]
    return None


def request_record(
    index: int,
    warmup: bool,
    stamps: Stamps,
    content: StreamContent,
    failure: RequestFailed | None,
    expected: str,
    origin: int,
) -> RequestRecord:
    """One request's record: raw stamps relative to `origin`, metrics when it succeeded."""
    fail = _failure(content, failure, expected)
    out, source = _tokens(content)
    timing = _Timing() if fail is not None else _timing_metrics(stamps, content, out)
    headers = fail.headers if fail is not None else {}
    return RequestRecord(
        index=index,
        warmup=warmup,
        status="ok" if fail is None else "failed",
        reason=str(fail) if fail is not None else "",
        failure=fail.kind if fail is not None else "",
        http_status=stamps.status,
        scheduled_ns=stamps.scheduled_ns - origin,
        sent_ns=_rel(stamps.sent_ns, origin),
        headers_ns=_rel(stamps.headers_ns, origin),
        last_ns=_rel(content.event_ns[-1] if content.event_ns else None, origin),
        event_ns=tuple(t - origin for t in content.event_ns),
        content_ns=tuple(t - origin for t in content.content_ns),
        itl_s=timing.itl_s,
        ttft_s=timing.ttft_s,
        e2e_s=timing.e2e_s,
        tpot_s=timing.tpot_s,
        output_tokens_per_s=timing.output_tokens_per_s,
        output_tokens=out,
        input_tokens=content.prompt_tokens,
        token_source=source,
        tokens_per_chunk=timing.tokens_per_chunk,
        finish_reason=content.finish_reason,
        server_timings_s=dict(content.timings_s),
        network_client_s=timing.network_client_s,
        retry_after_s=_retry_after(headers) if fail is not None else None,
        rate_limits={k: v for k, v in headers.items() if k.startswith("x-ratelimit-")},
        response_id=content.response_id,
        read_delay_max_s=stamps.read_delay_ns / 1e9 if stamps.kernel else None,
        resent=stamps.sends > 1,
    )


@dataclass(frozen=True, slots=True)
class _Timing:
    """A successful request's latency metrics; a failed one keeps none."""

    ttft_s: float | None = None
    e2e_s: float | None = None
    itl_s: tuple[float, ...] = ()
    tpot_s: float | None = None
    output_tokens_per_s: float | None = None
    tokens_per_chunk: float | None = None
    network_client_s: float | None = None


def _timing_metrics(stamps: Stamps, content: StreamContent, out: int | None) -> _Timing:
    c = content.content_ns
    ttft = (c[0] - stamps.scheduled_ns) / 1e9
    e2e = (content.event_ns[-1] - stamps.scheduled_ns) / 1e9
    after_first = e2e - ttft
    return _Timing(
        ttft_s=ttft,
        e2e_s=e2e,
        itl_s=tuple((b - a) / 1e9 for a, b in zip(c, c[1:], strict=False)),
        tpot_s=after_first / (out - 1) if out and out > 1 else None,
        output_tokens_per_s=out / after_first if out and after_first > 0 else None,
        tokens_per_chunk=out / len(c) if out else None,
        network_client_s=_server_share(ttft, content.timings_s),
    )


def _summary(values: Sequence[float]) -> Summary | None:
    """Summary of a metric; large sets skip the bootstrap (cost) for an order-statistic CI."""
    if not values:
        return None
    if len(values) <= _BOOTSTRAP_MAX:
        return summarize(values)
    x = np.asarray(values, dtype=np.float64)
    q25, q50, q75, q90, q99 = np.percentile(x, [25, 50, 75, 90, 99])
    low, high = median_ci_order(values)
    return Summary(
        int(x.size), float(x.min()), float(q50), float(x.mean()), float(x.std(ddof=1)),
        float(q75 - q25), float(q90), float(q99), low, high, CONFIDENCE,
    )  # fmt: skip


def _done_ns(r: RequestRecord) -> int:
    for t in (r.last_ns, r.headers_ns, r.sent_ns):
        if t is not None:
            return t
    return r.scheduled_ns


def steady_window(measured: Sequence[RequestRecord]) -> tuple[int, int, str]:
    """Between ramp-up (first completion: the pipeline is full) and drain (last request sent).

    Too few requests for the load leave no such window: then the whole span, with a note.
    """
    if not measured:
        return 0, 0, "no measured requests"
    sent = [r.sent_ns if r.sent_ns is not None else r.scheduled_ns for r in measured]
    done = [_done_ns(r) for r in measured]
    start, end = min(done), max(sent)
    if end > start:
        return start, end, ""
    note = "no steady window (too few requests for this load): throughput is over the whole run"
    return min(sent), max(done), note


def _share_in_window(r: RequestRecord, start: int, end: int) -> float:
    """The part of the request's life (scheduled to done) inside the window, as a fraction.

    Counting each request by that fraction counts it once in all, with no edge to land on:
    counting completions in a closed window counts a wave of completions at its start (the
    window begins at the first completion) as if it belonged to it, up to (k+1)/k the true
    rate. A closed-loop worker's requests never overlap, so the rate this gives can never
    exceed concurrency / shortest E2E.
    """
    born, done = r.scheduled_ns, _done_ns(r)
    if done <= born:
        return 1.0 if start < done <= end else 0.0
    inside = min(done, end) - max(born, start)
    return inside / (done - born) if inside > 0 else 0.0


def _tokens_in_window(r: RequestRecord, start: int, end: int) -> float:
    """Output tokens that arrived in the half-open window (start, end]."""
    if not r.content_ns or not r.tokens_per_chunk:
        return 0.0
    stamps = np.asarray(r.content_ns)
    inside = int(np.searchsorted(stamps, end, "right") - np.searchsorted(stamps, start, "right"))
    return inside * r.tokens_per_chunk


def _good(r: RequestRecord, load: Load) -> bool:
    tpot_ok = r.tpot_s is None or r.tpot_s <= load.slo_tpot_s
    return r.status == "ok" and r.ttft_s is not None and r.ttft_s <= load.slo_ttft_s and tpot_ok


def throughput(ok: Sequence[RequestRecord], load: Load, start: int, end: int) -> dict:
    """Requests, tokens and goodput per second over the steady window, edge bias free."""
    span = (end - start) / 1e9
    if span <= 0:
        return {}
    done = tokens = good = 0.0
    for r in ok:
        share = _share_in_window(r, start, end)
        done += share
        tokens += _tokens_in_window(r, start, end)
        good += share if _good(r, load) else 0.0
    return {
        "requests_per_s": done / span,
        "output_tokens_per_s": tokens / span,
        "goodput_requests_per_s": good / span,
    }


def _pct(values: Floats, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def client_bound(load: Load, health: ClientHealth) -> str:
    """Why the client, not the server, set the pace ('' when it did not).

    Systematic signs only (CPU, p90 of lag and delays): a shared machine's occasional stall
    is reported by `client_tail` instead, as a caution on the tail percentiles.
    """
    reasons = []
    if health.cpu_cores is not None and health.cpu_cores >= load.cpu_limit:
        reasons.append(f"client CPU {health.cpu_cores:.2f} cores >= {load.cpu_limit:g}")
    lag90 = _pct(health.lag_s, 90)
    if lag90 is not None and lag90 >= load.lag_limit_s:
        reasons.append(f"event-loop lag p90 {lag90 * 1e3:.2f} ms >= {load.lag_limit_s * 1e3:g} ms")
    delay90 = _pct(health.read_delay_s, 90)
    if delay90 is not None and delay90 >= load.lag_limit_s:
        reasons.append(f"reads ran p90 {delay90 * 1e3:.2f} ms behind their arrival")
    send90 = _pct(health.send_lag_s, 90)
    # The arrival timer itself fires up to ~1 ms late (millisecond timer granularity).
    if load.mode == "rate" and send90 is not None and send90 >= load.lag_limit_s + 1e-3:
        reasons.append(f"requests left p90 {send90 * 1e3:.2f} ms after their scheduled time")
    return "; ".join(reasons)


def client_tail(load: Load, health: ClientHealth) -> str:
    """A caution when the client's own delays reach the tail (p99) but not the bulk."""
    worst = max(_pct(health.lag_s, 99) or 0.0, _pct(health.read_delay_s, 99) or 0.0)
    if worst < load.lag_limit_s:
        return ""
    return (
        f"the client was {worst * 1e3:.2f} ms behind at p99 (event loop or reads):"
        " p99 latencies may include up to that much client delay"
    )


def _notes(
    ok: Sequence[RequestRecord], failed: Sequence[RequestRecord], window_note: str
) -> list[str]:
    notes = [window_note] if window_note else []
    fallback = sum(1 for r in ok if r.token_source == CHUNK_COUNT)
    if fallback:
        notes.append(f"{fallback} request(s) had no usage: output tokens counted as content chunks")
    if failed:
        notes.append(f"{len(failed)} failed request(s) kept out of the latency statistics")
    return notes


def _latency(ok: Sequence[RequestRecord]) -> dict[str, Any]:
    """Latency statistics over successful requests (failures never enter them)."""
    speeds = [r.output_tokens_per_s for r in ok if r.output_tokens_per_s is not None]
    return {
        "ttft": _summary([r.ttft_s for r in ok if r.ttft_s is not None]),
        "e2e": _summary([r.e2e_s for r in ok if r.e2e_s is not None]),
        "itl": _summary([g for r in ok for g in r.itl_s]),
        "tpot": _summary([r.tpot_s for r in ok if r.tpot_s is not None]),
        "output_speed_tokens_per_s": _speed(speeds),
        "network_client": _summary(
            [r.network_client_s for r in ok if r.network_client_s is not None]
        ),
        "token_sources": dict(Counter(r.token_source for r in ok)),
    }


def _failures(failed: Sequence[RequestRecord]) -> dict[str, Any]:
    """Counts by kind, the first message of each, and the last rate-limit headers seen."""
    examples: dict[str, str] = {}
    for r in failed:
        examples.setdefault(r.failure, r.reason)
    limits = next((r for r in reversed(failed) if r.rate_limits or r.retry_after_s), None)
    return {
        "failures": dict(Counter(r.failure for r in failed)),
        "failure_examples": examples,
        "rate_limits": dict(limits.rate_limits) if limits else {},
        "retry_after_s": limits.retry_after_s if limits else None,
    }


def _client(load: Load, health: ClientHealth) -> dict[str, Any]:
    bound = client_bound(load, health)
    return {
        "client_cpu_cores": health.cpu_cores,
        "client_rss_mb": health.rss_mb,
        "loop_lag_p50_s": _pct(health.lag_s, 50),
        "loop_lag_p99_s": _pct(health.lag_s, 99),
        "loop_lag_max_s": max(health.lag_s) if health.lag_s else None,
        "send_lag_p99_s": _pct(health.send_lag_s, 99),
        "read_delay_p99_s": _pct(health.read_delay_s, 99),
        "client_bound": bool(bound),
        "client_bound_reason": bound,
    }


def summarize_case(
    records: Sequence[RequestRecord],
    load: Load,
    health: ClientHealth,
    stopped_by: StreamStop,
    origin: int,
) -> StreamSummary:
    """The case's aggregate over measured (not warm-up) requests."""
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.status == "ok"]
    failed = [r for r in measured if r.status == "failed"]
    start, end, window_note = steady_window(measured)
    sent = sorted(r.sent_ns for r in measured if r.sent_ns is not None)
    span = (sent[-1] - sent[0]) / 1e9 if len(sent) > 1 else 0.0
    tail = client_tail(load, health)
    return StreamSummary(
        mode=load.mode,
        concurrency=load.concurrency,
        rate_target_per_s=load.rate_per_s,
        arrival=load.arrival if load.mode == "rate" else "",
        requests_ok=len(ok),
        requests_failed=len(failed),
        requests_warmup=len(records) - len(measured),
        stopped_by=stopped_by,
        clock_origin_ns=origin,
        window_start_ns=start,
        window_end_ns=end,
        achieved_rate_per_s=(len(sent) - 1) / span if span > 0 else None,
        slo_ttft_s=load.slo_ttft_s,
        slo_tpot_s=load.slo_tpot_s,
        goodput_fraction=sum(_good(r, load) for r in ok) / len(measured) if measured else None,
        stamp_source=_stamp_source(measured),
        requests_resent=sum(r.resent for r in measured),
        notes=tuple(_notes(ok, failed, window_note) + ([tail] if tail else [])),
        **throughput(ok, load, start, end),
        **_latency(ok),
        **_failures(failed),
        **_client(load, health),
    )


def _stamp_source(measured: Sequence[RequestRecord]) -> str:
    kernel = sum(r.read_delay_max_s is not None for r in measured)
    if kernel == len(measured):
        return "kernel receive time (SO_TIMESTAMPNS)"
    return "user space (bytes handed to the client)" if not kernel else "mixed kernel/user space"


def _speed(speeds: Sequence[float]) -> dict[str, float]:
    if not speeds:
        return {}
    p10, p50, p90 = np.percentile(speeds, [10, 50, 90])
    return {
        "p10": float(p10),
        "median": float(p50),
        "p90": float(p90),
        "mean": float(np.mean(speeds)),
    }
