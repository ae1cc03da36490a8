"""Cerebras adapter: defaults, max_completion_tokens, time_info timings, decomposition, live call."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from bench.remote.cerebras import CerebrasBackend
from bench.remote.server import Script, running
from bench.remote.sse import Event
from bench.runner.clock import perf_ns
from bench.runner.streaming import fetch_log
from tests.chat_helpers import CONVERSION_SLACK_NS, run_chat, server_sends


@pytest.fixture(scope="module")
def cerebras_style() -> Iterator[str]:
    script = Script(ttft_s=0.03, itl_s=0.002, tokens=8, queue_s=0.005, style="cerebras")
    with running(script, clock=perf_ns) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1"


def test_defaults_point_at_cerebras_and_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CEREBRAS_API_KEY", raising=False)
    backend = CerebrasBackend()
    assert backend.options["base_url"] == "https://api.cerebras.ai/v1"
    assert "CEREBRAS_API_KEY is not set" in backend.probe().reason


def test_the_output_limit_is_sent_as_max_completion_tokens() -> None:
    backend = CerebrasBackend({"api_key_env": "", "model": "m"})
    body = json.loads(backend.request({"messages": [], "max_tokens": 7}).partition(b"\r\n\r\n")[2])
    assert body["max_completion_tokens"] == 7 and "max_tokens" not in body


def test_timings_come_from_time_info() -> None:
    final = {
        "id": "c",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        "time_info": {
            "queue_time": 0.001,
            "prompt_time": 0.002,
            "completion_time": 0.01,
            "total_time": 0.013,
        },
    }
    out = CerebrasBackend({"api_key_env": ""}).read_events([Event(1, json.dumps(final).encode())])
    assert out.timings_s == {
        "queue_s": 0.001,
        "prompt_s": 0.002,
        "completion_s": 0.01,
        "total_s": 0.013,
    }
    assert (out.completion_tokens, out.token_source) == (2, "usage")


def test_latency_splits_into_network_client_and_server_parts(cerebras_style: str) -> None:
    [case] = run_chat(cerebras_style, backend="cerebras", api_key_env="", model="synthetic-1")
    log = fetch_log(cerebras_style)
    assert case.status == "ok", case.reason
    for r in case.requests:
        assert r.server_timings_s["queue_s"] == pytest.approx(0.005)
        assert r.server_timings_s["prompt_s"] == pytest.approx(0.025)  # as scripted
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


@pytest.mark.network
def test_live_cerebras_streams_with_timings() -> None:
    if not os.environ.get("CEREBRAS_API_KEY"):
        pytest.skip("CEREBRAS_API_KEY is not set")
    [case] = run_chat(
        "https://api.cerebras.ai/v1", backend="cerebras", load={"requests": 2},
        api_key_env="CEREBRAS_API_KEY", model=os.environ.get("CEREBRAS_MODEL", "llama3.1-8b"),
    )  # fmt: skip
    assert case.status == "ok", case.reason
    assert all(r.server_timings_s for r in case.requests if r.status == "ok")
