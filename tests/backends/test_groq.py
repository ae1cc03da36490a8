"""Groq adapter: defaults, request quirks, x_groq.usage timings, decomposition on loopback, live call."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from bench.core.errors import ConfigError
from bench.remote.groq import GroqBackend
from bench.remote.server import Script, running
from bench.remote.sse import Event
from bench.runner.clock import perf_ns
from bench.runner.streaming import fetch_log
from tests.chat_helpers import CONVERSION_SLACK_NS, run_chat, server_sends

_FINAL = {
    "id": "g1",
    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    "x_groq": {
        "id": "req_1",
        "usage": {
            "queue_time": 0.012, "prompt_tokens": 20, "prompt_time": 0.004,
            "completion_tokens": 5, "completion_time": 0.02, "total_time": 0.036,
        },
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def groq_style() -> Iterator[str]:
    script = Script(ttft_s=0.03, itl_s=0.002, tokens=8, queue_s=0.01, style="groq")
    with running(script, clock=perf_ns) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1"


def test_defaults_point_at_groq_and_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    backend = GroqBackend()
    assert backend.options["base_url"] == "https://api.groq.com/openai/v1"
    assert "GROQ_API_KEY is not set" in backend.probe().reason


@pytest.mark.parametrize(
    ("extra", "message"), [({"n": 2}, "requires n=1"), ({"logprobs": True}, "refuses")]
)
def test_request_fields_groq_refuses_fail_before_the_run(extra: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GroqBackend({"api_key_env": "", "extra": extra})


def test_streamed_usage_and_timings_come_from_x_groq() -> None:
    events = [Event(1, b'{"id":"g1","choices":[{"index":0,"delta":{"content":"a"}}]}')]
    events.append(Event(2, json.dumps(_FINAL).encode()))
    out = GroqBackend({"api_key_env": ""}).read_events(events)
    assert (out.completion_tokens, out.prompt_tokens, out.token_source) == (5, 20, "x_groq.usage")
    assert out.timings_s == {
        "queue_s": 0.012,
        "prompt_s": 0.004,
        "completion_s": 0.02,
        "total_s": 0.036,
    }


def test_non_streamed_timings_in_usage_are_read_too() -> None:
    obj = {
        "usage": {"queue_time": 0.1, "prompt_time": 0.2, "completion_time": 0.3, "total_time": 0.6}
    }
    assert GroqBackend({"api_key_env": ""}).server_timings(obj)["total_s"] == 0.6


def test_latency_splits_into_network_client_and_server_parts(groq_style: str) -> None:
    [case] = run_chat(groq_style, backend="groq", api_key_env="", model="synthetic-1")
    log = fetch_log(groq_style)
    assert case.status == "ok", case.reason
    for r in case.requests:
        assert r.token_source == "x_groq.usage" and r.output_tokens == 8
        assert r.server_timings_s["queue_s"] == pytest.approx(0.01)
        assert r.server_timings_s["prompt_s"] == pytest.approx(0.02)  # as scripted
        # client TTFT = queue + prompt (server) + the network and client share, small but real
        timings = r.server_timings_s
        assert r.network_client_s == pytest.approx(
            r.ttft_s - timings["queue_s"] - timings["prompt_s"]
        )
        # The server sends no token before queue + prompt, and the client scheduled the request
        # before it arrived: the client's share is never negative (bar the stamp conversion).
        # No upper bound: on a loaded machine it is as large as the scheduler makes it.
        recv, sends = server_sends(log, r.response_id)
        assert r.network_client_s >= -CONVERSION_SLACK_NS / 1e9
        assert r.ttft_s >= (sends[0] - recv - CONVERSION_SLACK_NS) / 1e9
        # completion time is the server's own: its first to last content send, as logged
        assert timings["completion_s"] == pytest.approx((sends[-1] - sends[0]) / 1e9, abs=1e-9)
    assert case.stream is not None and case.stream.network_client is not None


@pytest.mark.network
def test_live_groq_streams_with_timings() -> None:
    if not os.environ.get("GROQ_API_KEY"):
        pytest.skip("GROQ_API_KEY is not set")
    [case] = run_chat(
        "https://api.groq.com/openai/v1", backend="groq", load={"requests": 2},
        api_key_env="GROQ_API_KEY", model=os.environ.get("GROQ_MODEL", "llama-3.1-8b-instant"),
    )  # fmt: skip
    assert case.status == "ok", case.reason
    assert all(r.server_timings_s for r in case.requests if r.status == "ok")
