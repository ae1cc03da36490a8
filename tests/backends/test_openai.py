"""The generic OpenAI-compatible backend: contract, key handling, request shape, stream reading."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bench import backends as registry
from bench.backends.base import Availability
from bench.core.errors import ConfigError, UnsupportedCase
from bench.remote.openai import OpenAIBackend
from bench.remote.server import Script, running
from bench.remote.sse import Event
from bench.remote.wire import Response
from bench.runner.clock import perf_ns
from bench.runner.streaming import run_async

KEY = "sk-accelbench-test-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running(
        Script(ttft_s=0.005, itl_s=0.001, tokens=8, models=("m-1", "m-2")), clock=perf_ns
    ) as srv:
        yield f"http://127.0.0.1:{srv.port}/v1"


def _chunk(delta: dict | None = None, **extra: object) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]
    return json.dumps({"id": "c1", "choices": choices, **extra}).encode()


def test_registered_remote_backends_load_through_the_registry() -> None:
    for name in ("openai", "groq", "cerebras", "synthetic"):
        assert name in registry.names()
        assert registry.load(name).name == name
        assert registry.load(name).local is False


def test_probe_reports_a_missing_key_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCELBENCH_TEST_KEY", raising=False)
    avail = OpenAIBackend({"api_key_env": "ACCELBENCH_TEST_KEY"}).probe()
    assert (
        avail == Availability(False, avail.reason)
        and "ACCELBENCH_TEST_KEY is not set" in avail.reason
    )
    assert OpenAIBackend().probe().ok  # no key wanted: a local server


def test_the_key_is_sent_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCELBENCH_TEST_KEY", KEY)
    backend = OpenAIBackend({"api_key_env": "ACCELBENCH_TEST_KEY", "model": "m"})
    assert KEY.encode() in backend.request({"messages": []})  # the Authorization header
    shown = [repr(backend), str(backend.describe()), backend.probe().reason, str(backend.options)]
    assert not any(KEY in text for text in shown)


def test_request_shape_with_extra_fields() -> None:
    backend = OpenAIBackend({"model": "m", "extra": '{"top_p": 0.5}'})
    head, _, body = backend.request({"messages": [], "max_tokens": 9}).partition(b"\r\n\r\n")
    payload = json.loads(body)
    assert payload["model"] == "m" and payload["stream"] is True and payload["top_p"] == 0.5
    assert payload["stream_options"] == {"include_usage": True} and payload["max_tokens"] == 9
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000")
    assert f"Content-Length: {len(body)}".encode() in head
    assert b"\r\nAccept-Encoding: identity\r\n" in head


def test_extra_must_be_a_json_object() -> None:
    with pytest.raises(ConfigError, match="parameter 'extra'"):
        OpenAIBackend({"extra": "[1, 2"})


def test_http_errors_name_the_next_step_and_scrub_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCELBENCH_TEST_KEY", KEY)
    backend = OpenAIBackend(
        {"api_key_env": "ACCELBENCH_TEST_KEY", "base_url": "https://api.example.com/v1"}
    )
    body = json.dumps({"error": {"message": f"bad key {KEY}"}}).encode()
    failure = backend.http_failure(Response(401, {}, body))
    assert failure.kind == "http_4xx" and KEY not in str(failure)
    assert str(failure) == "401 from api.example.com: bad key ***; check ACCELBENCH_TEST_KEY"
    limited = backend.http_failure(
        Response(429, {"retry-after": "3", "x-ratelimit-reset": "2s", "server": "x"})
    )
    assert limited.kind == "http_429" and limited.headers == {
        "retry-after": "3",
        "x-ratelimit-reset": "2s",
    }
    assert backend.http_failure(Response(503)).kind == "http_5xx"


def test_reading_a_stream_role_only_is_not_content_reasoning_and_tools_are() -> None:
    events = [
        Event(1, _chunk({"role": "assistant", "content": ""})),
        Event(2, _chunk({"reasoning_content": "hmm"})),
        Event(3, _chunk({"content": "Hi"})),
        Event(4, _chunk({"tool_calls": [{"index": 0}]})),
        Event(5, _chunk(None, usage={"prompt_tokens": 4, "completion_tokens": 6})),
        Event(6, b"[DONE]"),
    ]
    out = OpenAIBackend().read_events(events)
    assert out.content_ns == [2, 3, 4] and out.event_ns == [1, 2, 3, 4, 5, 6]
    assert (out.prompt_tokens, out.completion_tokens, out.token_source) == (4, 6, "usage")
    assert out.error is None and out.response_id == "c1"


def test_repeated_usage_takes_the_last_one() -> None:
    events = [Event(i, _chunk({"content": "x"}, usage={"completion_tokens": i})) for i in (1, 2, 3)]
    assert OpenAIBackend().read_events(events).completion_tokens == 3


def test_malformed_chunks_and_error_objects_become_failures() -> None:
    bad = OpenAIBackend().read_events([Event(1, b'{"id": '), Event(2, _chunk({"content": "x"}))])
    assert bad.error is not None and bad.error.kind == "malformed_chunk" and bad.content_ns == [2]
    err = OpenAIBackend().read_events([Event(1, b'{"error": {"message": "overloaded"}}')])
    assert (
        err.error is not None
        and err.error.kind == "stream_error"
        and "overloaded" in str(err.error)
    )
    named = OpenAIBackend().read_events([Event(1, b'{"message": "x"}', "error")])
    assert named.error is not None and named.error.kind == "stream_error"


def test_local_workloads_are_unsupported() -> None:
    with pytest.raises(UnsupportedCase, match="runs the 'chat' workload only"):
        OpenAIBackend().prepare(None)  # type: ignore[arg-type]


def test_models_come_from_the_endpoint(server: str) -> None:
    backend = OpenAIBackend({"base_url": server})
    try:
        assert run_async(backend.models) == ["m-1", "m-2"]
    finally:
        backend.close()
