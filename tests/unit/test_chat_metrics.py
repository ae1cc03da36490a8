"""Chat metrics against known stamps: TTFT, E2E, ITL, TPOT, speed, tokens, windows, client flags."""

from __future__ import annotations

import pytest

from bench.core.records import RequestRecord
from bench.remote import metrics as cm
from bench.remote.chat import Load
from bench.remote.openai import StreamContent
from bench.remote.wire import RequestFailed

MS = 1_000_000  # ns


def _content(n: int = 5, usage: int | None = 5, timings: dict | None = None) -> StreamContent:
    """Role chunk at 1 ms, content at 50, 60, ... ms, a final chunk 1 ms after the last."""
    content_ns = [50 * MS + 10 * MS * i for i in range(n)]
    return StreamContent(
        event_ns=[1 * MS, *content_ns, content_ns[-1] + MS],
        content_ns=content_ns,
        text=["a"] * n,
        finish_reason="stop",
        completion_tokens=usage,
        prompt_tokens=7 if usage else None,
        token_source="usage" if usage else "",
        timings_s=timings or {},
    )


def _record(content: StreamContent, expected: str = "", failure: RequestFailed | None = None):
    stamps = cm.Stamps(scheduled_ns=0, sent_ns=100_000, headers_ns=MS, status=200)
    return cm.request_record(3, False, stamps, content, failure, expected, origin=0)


def test_metrics_from_known_stamps() -> None:
    r = _record(_content())
    assert r.status == "ok" and r.index == 3
    assert r.ttft_s == pytest.approx(0.050)  # first content event, not the role chunk at 1 ms
    assert r.e2e_s == pytest.approx(0.091)  # to the last event
    assert r.itl_s == pytest.approx((0.01, 0.01, 0.01, 0.01))
    assert r.tpot_s == pytest.approx((0.091 - 0.050) / 4)
    assert r.output_tokens_per_s == pytest.approx(5 / 0.041)
    assert (r.output_tokens, r.input_tokens, r.token_source) == (5, 7, "usage")
    assert r.tokens_per_chunk == 1.0 and r.finish_reason == "stop"
    assert r.event_ns[0] == MS and len(r.event_ns) == 7 and len(r.content_ns) == 5


def test_usage_beats_chunk_counting_and_the_fallback_says_so() -> None:
    assert _record(_content(n=4, usage=12)).tokens_per_chunk == 3.0
    fallback = _record(_content(n=4, usage=None))
    assert fallback.output_tokens == 4
    assert fallback.token_source.startswith("content chunks (no usage")


def test_network_and_client_share_is_ttft_minus_queue_and_prompt() -> None:
    r = _record(_content(timings={"queue_s": 0.010, "prompt_s": 0.030, "total_s": 0.08}))
    assert r.network_client_s == pytest.approx(0.050 - 0.040)
    assert r.server_timings_s["total_s"] == 0.08
    assert _record(_content()).network_client_s is None


def test_failures_keep_their_stamps_and_no_metrics() -> None:
    cut = _record(_content(), failure=RequestFailed("stream_cut", "connection closed"))
    assert (cut.status, cut.failure, cut.ttft_s) == ("failed", "stream_cut", None)
    assert cut.content_ns and cut.sent_ns == 100_000
    canary = _record(_content(), expected="zebra")
    assert canary.failure == "canary" and "zebra" in canary.reason
    empty = _record(StreamContent(event_ns=[MS]))
    assert empty.failure == "stream_cut" and "without any content" in empty.reason


def test_rate_limit_headers_are_kept_on_429() -> None:
    headers = {"retry-after": "2", "x-ratelimit-remaining-requests": "0"}
    r = _record(StreamContent(), failure=RequestFailed("http_429", "429 from x", 429, headers))
    assert r.retry_after_s == 2.0 and r.rate_limits == {"x-ratelimit-remaining-requests": "0"}


def _req(i: int, sent_ms: float, done_ms: float, ok: bool = True) -> RequestRecord:
    content = tuple(int((sent_ms + 1 + k) * MS) for k in range(int(done_ms - sent_ms - 1)))
    return RequestRecord(
        index=i, warmup=False, status="ok" if ok else "failed", sent_ns=int(sent_ms * MS),
        scheduled_ns=int(sent_ms * MS), last_ns=int(done_ms * MS), content_ns=content,
        tokens_per_chunk=1.0, ttft_s=0.001, tpot_s=0.001,
    )  # fmt: skip


def test_steady_window_runs_from_first_completion_to_last_send() -> None:
    reqs = [_req(i, sent_ms=10 * i, done_ms=10 * i + 30) for i in range(10)]
    start, end, note = cm.steady_window(reqs)
    assert (start, end, note) == (30 * MS, 90 * MS, "")
    tp = cm.throughput(reqs, Load("concurrency", slo_ttft_s=1, slo_tpot_s=1), start, end)
    # one request every 10 ms: 100/s (counting the 7 completions at 30..90 ms said 117/s)
    assert tp["requests_per_s"] == pytest.approx(100.0)
    # three requests overlap at any time, each streaming a token a millisecond
    assert tp["output_tokens_per_s"] == pytest.approx(3000.0, rel=0.05)
    assert tp["goodput_requests_per_s"] == tp["requests_per_s"]


@pytest.mark.parametrize("wave", [1, 4, 64])
def test_closed_loop_waves_never_beat_concurrency_over_the_shortest_e2e(wave: int) -> None:
    """`wave` workers in lockstep, requests of 690 ms: at most wave / 0.69 s, and exactly it."""
    reqs = [
        _req(w * 100 + k, sent_ms=690 * k, done_ms=690 * (k + 1))
        for w in range(wave)
        for k in range(6)
    ]
    start, end, _ = cm.steady_window(reqs)
    rate = cm.throughput(reqs, Load("concurrency", concurrency=wave), start, end)["requests_per_s"]
    assert rate <= wave / 0.690 * (1 + 1e-9)
    assert rate == pytest.approx(wave / 0.690)


def test_too_few_requests_fall_back_to_the_whole_span_and_say_so() -> None:
    start, end, note = cm.steady_window([_req(0, 0, 50)])
    assert (start, end) == (0, 50 * MS) and "no steady window" in note


def test_goodput_counts_only_requests_within_the_slo() -> None:
    load = Load("concurrency", slo_ttft_s=0.0005, slo_tpot_s=1)
    assert not cm._good(_req(0, 0, 10), load)
    assert cm._good(_req(0, 0, 10), Load("concurrency", slo_ttft_s=0.002, slo_tpot_s=0.002))


def test_client_bound_names_its_reasons() -> None:
    load = Load("rate", rate_per_s=10, cpu_limit=0.9, lag_limit_s=0.002)
    calm = cm.ClientHealth(0.1, 50.0, (0.0001,) * 100, (0.0005,) * 100)
    assert cm.client_bound(load, calm) == ""
    busy = cm.ClientHealth(0.97, 50.0, (0.0001,) * 80 + (0.005,) * 20, (0.01,) * 100)
    reason = cm.client_bound(load, busy)
    assert "client CPU 0.97 cores" in reason and "event-loop lag p90 5.00 ms" in reason
    assert "after their scheduled time" in reason
    behind = cm.ClientHealth(0.2, 50.0, (0.0001,), (), read_delay_s=(0.003,) * 10)
    assert cm.client_bound(load, behind) == "reads ran p90 3.00 ms behind their arrival"


def test_a_stall_in_the_tail_is_a_caution_not_a_verdict() -> None:
    load = Load("concurrency", lag_limit_s=0.002)
    tail = cm.ClientHealth(0.3, 50.0, (0.0001,) * 95 + (0.004,) * 5, ())
    assert cm.client_bound(load, tail) == ""
    assert "4.00 ms behind at p99" in cm.client_tail(load, tail)


def test_summary_keeps_failures_out_of_latency_and_counts_them() -> None:
    ok = [_req(i, 10 * i, 10 * i + 30) for i in range(5)]
    bad = RequestRecord(9, False, "failed", reason="500 from h", failure="http_5xx", sent_ns=0)
    warm = RequestRecord(0, True, "ok", ttft_s=9.0)
    health = cm.ClientHealth(0.1, 40.0, (0.0001,), ())
    s = cm.summarize_case([warm, *ok, bad], Load("concurrency"), health, "requests", 0)
    assert (s.requests_ok, s.requests_failed, s.requests_warmup) == (5, 1, 1)
    assert s.failures == {"http_5xx": 1} and s.failure_examples["http_5xx"] == "500 from h"
    assert s.ttft is not None and s.ttft.n == 5 and s.ttft.median_s == pytest.approx(0.001)
    assert any("1 failed request(s)" in n for n in s.notes)
