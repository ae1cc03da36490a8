"""The synthetic endpoint end to end: accuracy against its send log, every fault mode, bounds."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bench.core import store
from bench.core.records import RequestRecord
from bench.remote import accuracy
from bench.remote.server import Script, running
from bench.runner.clock import perf_ns
from bench.runner.streaming import fetch_log
from tests.chat_helpers import CONVERSION_SLACK_NS, run_chat, served, server_sends


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running(Script(ttft_s=0.01, itl_s=0.001, tokens=16), clock=perf_ns) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1"


def _only(cases: list) -> object:
    [case] = cases
    return case


def test_stamps_match_the_servers_own_send_log() -> None:
    """A server in its own process; errors are the client's stamp minus the server's send."""
    with served("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "32", "--style", "groq") as base:
        cases = run_chat(
            base,
            load={"scenario": "sweep", "concurrency": [1, 8], "requests": 24, "warmup_requests": 2},
            params={"max_tokens": 32},
        )
        log = fetch_log(base)
    for case in cases:
        assert case.status == "ok", case.reason
        a = accuracy.compare(case, log)
        assert a.requests == 24
        # same clock; the kernel stamps a loopback read inside the server's send, so the error
        # is tiny and never meaningfully negative (allowance: the realtime conversion)
        assert -0.0001 <= a.ttft_error_median_s < 0.005
        assert a.itl_error_median_s < 0.002
        s = case.stream
        assert s.stamp_source.startswith("kernel receive time")
        assert all(r.read_delay_max_s is not None for r in case.requests)
        assert all(r.output_tokens == 32 and len(r.content_ns) == 32 for r in case.requests)
        for r in case.requests:
            _assert_ordered_against_the_log(r, log, s.clock_origin_ns)


def _assert_ordered_against_the_log(r: RequestRecord, log: dict, origin_ns: int) -> None:
    """Orderings that hold however loaded the machine: no absolute durations.

    The server sends nothing before its scripted time (20 ms, then 2 ms a token, from the
    request's arrival); the client scheduled the request before the server received it and
    stamps each event after the server sent it. So the client's TTFT is at least the server's,
    which is at least the script's, and E2E is at least TTFT.
    """
    recv, sends = server_sends(log, r.response_id)
    due = [recv + round((0.020 + 0.002 * k) * 1e9) for k in range(32)]
    assert all(t >= d - 1_000 for t, d in zip(sends, due, strict=True))  # 1 us: float rounding
    assert r.scheduled_ns + origin_ns <= recv
    client = [t + origin_ns for t in r.content_ns]
    assert all(c >= t - CONVERSION_SLACK_NS for c, t in zip(client, sends, strict=True))
    assert r.ttft_s is not None and r.e2e_s is not None
    assert r.ttft_s >= (sends[0] - recv - CONVERSION_SLACK_NS) / 1e9
    assert r.e2e_s >= r.ttft_s and len(r.itl_s) == 31
    assert sum(r.itl_s) == pytest.approx((r.content_ns[-1] - r.content_ns[0]) / 1e9)


def test_tokens_per_chunk_jitter_and_no_usage(url: str) -> None:
    case = _only(run_chat(url, script={"tokens_per_chunk": 4, "jitter_s": 0.0005, "usage": False}))
    assert case.status == "ok", case.reason
    r = case.requests[0]
    assert len(r.content_ns) == 4 and r.output_tokens == 4  # no usage: chunks counted, and said
    assert r.token_source.startswith("content chunks") and r.tokens_per_chunk == 1.0
    with_usage = _only(run_chat(url, script={"tokens_per_chunk": 4}))
    assert (
        with_usage.requests[0].output_tokens == 16
        and with_usage.requests[0].tokens_per_chunk == 4.0
    )


@pytest.mark.parametrize(
    ("fault", "kind", "words", "options"),
    [
        ("429", "http_429", "429 from 127.0.0.1: Rate limit reached", {}),
        ("500", "http_5xx", "500 from 127.0.0.1: synthetic failure", {}),
        ("401", "http_4xx", "the endpoint wants a key", {}),
        ("cut", "stream_cut", "connection closed mid-response", {}),
        ("malformed", "malformed_chunk", "malformed chunk", {}),
        ("in_stream_error", "stream_error", "error inside the 200 stream", {}),
        ("hang", "timeout_first_byte", "no response within 0.3 s", {"first_byte_timeout_s": 0.3}),
        ("stall", "timeout_idle", "no data for 0.3 s", {"idle_timeout_s": 0.3}),
    ],
)
def test_each_fault_is_a_failed_request_with_its_reason(
    url: str, fault: str, kind: str, words: str, options: dict
) -> None:
    case = _only(run_chat(url, load={"requests": 2}, script={"fault": fault}, **options))
    s = case.stream
    assert (s.requests_ok, s.requests_failed, s.failures) == (0, 2, {kind: 2})
    assert (
        case.status == "failed"
        and "every request failed (2 of 2" in case.reason
        and words in case.reason
    )
    assert s.ttft is None  # failures never reach the latency statistics


def test_a_slow_stream_meets_the_total_timeout(url: str) -> None:
    case = _only(run_chat(url, load={"requests": 1}, script={"ttft_s": 2.0}, total_timeout_s=0.3))
    assert case.stream.failures == {"timeout_total": 1} and "within 0.3 s" in case.reason


def test_connection_refused_is_recorded() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        case = _only(run_chat(f"http://127.0.0.1:{port}/v1", load={"requests": 2}))
    assert case.stream.failures == {"connect": 2} and "cannot connect to 127.0.0.1" in case.reason


def test_some_faults_some_successes_are_counted_apart(url: str) -> None:
    load = {"requests": 9, "max_failed_fraction": 0.5}
    case = _only(run_chat(url, load=load, script={"fault": "500", "fault_every": 3}))
    s = case.stream
    assert case.status == "ok" and s.requests_ok + s.requests_failed == 9
    assert s.failures == {"http_5xx": s.requests_failed} and s.requests_failed in (3, 4)
    assert s.ttft.n == s.requests_ok


def test_any_failure_fails_the_case_unless_the_policy_allows_it(url: str) -> None:
    case = _only(run_chat(url, load={"requests": 9}, script={"fault": "500", "fault_every": 3}))
    s = case.stream
    assert case.status == "failed" and s.requests_ok > 0 and s.ttft.n == s.requests_ok
    failed = s.requests_failed
    assert case.reason.startswith(f"{failed} of 9 requests failed")
    assert "max_failed_fraction=0 allows; most often http_5xx" in case.reason


def test_429_headers_are_read_and_stop_policy_ends_the_run(url: str) -> None:
    script = {"fault": "429", "retry_after_s": 0.2}
    case = _only(run_chat(url, load={"requests": 20, "on_429": "stop"}, script=script))
    s = case.stream
    assert s.stopped_by == "429 (on_429=stop)" and s.requests_failed == 1
    assert s.retry_after_s == 0.2 and s.rate_limits["x-ratelimit-remaining-requests"] == "0"


def test_backoff_waits_retry_after_between_requests(url: str) -> None:
    script = {"fault": "429", "retry_after_s": 0.15}
    case = _only(run_chat(url, load={"requests": 3, "on_429": "backoff"}, script=script))
    assert case.stream.requests_failed == 3
    sent = [r.sent_ns for r in case.requests]
    # a pause of retry-after (0.15 s, less timer slack) after each 429: a lower bound, which
    # load can only lengthen
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.14e9


def test_duration_bounds_the_run_and_warmup_is_excluded(url: str) -> None:
    load = {"requests": 0, "duration_s": 0.4, "concurrency": 2, "warmup_requests": 3}
    case = _only(run_chat(url, load=load))
    s = case.stream
    assert s.stopped_by == "duration" and s.requests_warmup == 3
    assert sum(r.warmup for r in case.requests) == 3 and s.ttft.n == s.requests_ok > 0


def test_rate_mode_latency_counts_from_the_schedule(url: str) -> None:
    load = {"scenario": "rate", "rate_per_s": 50, "arrival": "constant", "requests": 10}
    case = _only(run_chat(url, load=load))
    sched = [r.scheduled_ns for r in case.requests]
    assert [b - a for a, b in zip(sched, sched[1:], strict=False)] == [20_000_000] * 9
    assert all(r.sent_ns >= r.scheduled_ns for r in case.requests)  # never sent early
    for r in case.requests:  # latency counts from the schedule, not from the send
        assert r.ttft_s == (r.content_ns[0] - r.scheduled_ns) / 1e9
        assert r.e2e_s >= r.ttft_s
    # the achieved rate is what was really sent, not the schedule (a lagging client shows)
    sent = sorted(r.sent_ns for r in case.requests)
    assert case.stream.achieved_rate_per_s == pytest.approx(9 / ((sent[-1] - sent[0]) / 1e9))


def test_results_with_requests_round_trip_through_the_store(url: str, tmp_path) -> None:
    from bench.core.records import RunConfig, RunRecord

    case = _only(run_chat(url, load={"requests": 3}))
    path = store.save(
        RunRecord("r1", "t", RunConfig("run"), {}, cases=(case,)), tmp_path / "r1.json"
    )
    again = store.load(path).cases[0]
    assert again == case and again.requests[0].content_ns == case.requests[0].content_ns
