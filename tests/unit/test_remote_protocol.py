"""The remote contracts: every registered streaming backend conforms; a Transport can be handed in."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import get_args

import pytest

from bench import backends as registry
from bench.backends.numpy_backend import NumpyBackend
from bench.core.errors import BackendError
from bench.remote import chat
from bench.remote.openai import OpenAIBackend
from bench.remote.protocol import VENDORS, StreamingBackend, Transport, Vendor
from bench.remote.synthetic import SyntheticBackend
from bench.remote.wire import Endpoint, Pool, RequestFailed, Response, Sink, Timeouts
from bench.runner import streaming
from bench.runner.streaming import CaseDriver

_ASYNC = ("connect", "stream", "models", "get_json")
MS = 1_000_000


def _remote_classes() -> dict[str, type]:
    classes = {name: registry.load(name) for name in registry.names()}
    return {name: cls for name, cls in classes.items() if not getattr(cls, "local", True)}


def test_every_registered_remote_backend_conforms() -> None:
    remote = _remote_classes()
    assert sorted(remote) == ["cerebras", "groq", "openai", "synthetic"]
    for name, cls in remote.items():
        backend = cls({})
        assert isinstance(backend, StreamingBackend), name
        assert cls.vendor in VENDORS and cls.vendor == name  # built-ins: one vendor each
        for method in _ASYNC:
            assert inspect.iscoroutinefunction(getattr(cls, method)), (name, method)
        transport = backend.transport()  # nothing handed in: the pool, the default Transport
        assert isinstance(transport, Pool) and isinstance(transport, Transport)
        backend.close()
    assert set(VENDORS) == set(get_args(Vendor))


def test_a_local_backend_is_not_a_streaming_backend() -> None:
    assert not isinstance(NumpyBackend(), StreamingBackend)
    with pytest.raises(BackendError, match="'numpy' is not a streaming backend"):
        streaming.create("numpy", {})


def _chunk(**delta: object) -> bytes:
    return b"data: " + json.dumps({"id": "r1", "choices": [{"delta": delta}]}).encode() + b"\n\n"


_USAGE = {"id": "r1", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2}}
# (ns after the previous read, bytes): role-only first (not a token), two words, usage, done
SCRIPT = [
    (2 * MS, _chunk(role="assistant")),
    (3 * MS, _chunk(content="Hi")),
    (5 * MS, _chunk(content=" there")),
    (1 * MS, b"data: " + json.dumps(_USAGE).encode() + b"\n\n"),
    (0, b"data: [DONE]\n\n"),
]


class FakeClock:
    def __init__(self) -> None:
        self.now = 10 * MS

    def __call__(self) -> int:
        return self.now


class ScriptedTransport:
    """A Transport with no socket: answers every request from SCRIPT, moving a fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.requests = clock, []

    async def handle(self, request: bytes, sink: Sink, timeouts: Timeouts) -> Response:
        self.requests.append(request)
        sink.sent()
        self.clock.now += MS  # headers 1 ms after sending
        sink.mark()
        sink.headers(200)
        for gap, data in SCRIPT:
            self.clock.now += gap
            sink.feed(sink.mark(), data)
        return Response(200)


def test_a_handed_in_transport_carries_every_request() -> None:
    clock = FakeClock()
    transport = ScriptedTransport(clock)
    backend = OpenAIBackend({"model": "m1"}, transport=transport)
    assert isinstance(transport, Transport) and backend.transport() is transport
    data = {"run": {"backends": ["openai"]}, "case": [{"workload": "chat", "load": {"requests": 2}}]}
    (case,) = chat.parse_suite(data, "test").cases
    prompts = chat.prompts_for(case.params, 0, Path("."))
    driver = CaseDriver(case, backend, prompts, 0, clock)
    asyncio.run(driver.run())
    records = sorted(driver.state.records, key=lambda r: r.index)
    assert [r.status for r in records] == ["ok", "ok"] and len(transport.requests) == 2
    first = records[0]
    # scheduled when sent; headers +1 ms; content at +6 and +11 ms; the last event at +12 ms
    assert first.ttft_s == pytest.approx(0.006) and first.e2e_s == pytest.approx(0.012)
    assert first.itl_s == pytest.approx((0.005,)) and first.tpot_s == pytest.approx(0.006)
    assert (first.output_tokens, first.input_tokens, first.token_source) == (2, 8, "usage")
    body = json.loads(transport.requests[0].split(b"\r\n\r\n", 1)[1])
    assert body["model"] == "m1" and body["stream"] is True
    assert backend.describe().details["transport"] == "ScriptedTransport"


def test_the_vendor_id_is_recorded_in_the_description() -> None:
    described = registry.describe("synthetic")
    assert described["vendor"] == "synthetic" == SyntheticBackend.vendor
    assert registry.describe("openai")["vendor"] == "openai"


def _pool_failing_with(error: BaseException) -> Pool:
    pool = Pool(Endpoint.parse("http://127.0.0.1:9/v1"), 4)

    async def connect(timeout_s: float) -> None:
        raise error

    pool._connect = connect  # type: ignore[method-assign]
    return pool


def test_pre_connect_leaves_request_failures_to_the_requests() -> None:
    pool = _pool_failing_with(RequestFailed("connect", "cannot connect to 127.0.0.1:9"))
    asyncio.run(pool.warm(3, 1.0))
    assert pool.open == 0 and pool.idle == []


def test_pre_connect_lets_a_bug_crash() -> None:
    pool = _pool_failing_with(TypeError("a bug in the client"))
    with pytest.raises(TypeError, match="a bug in the client"):
        asyncio.run(pool.warm(3, 1.0))
