"""A synthetic OpenAI-compatible streaming server with scripted timing, faults and a send log."""

# This module is a server, not the harness: it logs when it sent each event (the ground truth
# that client accuracy is checked against) and paces its sends, both on a clock it is handed
# (bench.runner.clock.perf_ns from the caller), so server and client stamp with the same
# CLOCK_MONOTONIC and no code outside bench/runner/ reads a clock.

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import json
import random
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bench.core.errors import ConfigError
from bench.remote.script import (
    SSE_HEAD,
    WORDS,
    LogEntry,
    Script,
    check,
    error_body,
    frame,
    json_response,
    prompt_tokens,
    schedule,
)
from bench.remote.wire import event_loop_factory

_MAX_LOG = 200_000  # requests kept in the send log; older ones are dropped first


class _Ticker:
    """One timer for all streams: each tick sends every event that is due (a heap by time).

    A timer per event costs more CPU than the send itself at tens of thousands of events/s.
    Due times are on perf_counter_ns, not the loop's clock: uvloop's is cached per iteration
    and counts whole milliseconds, so pacing by it sends up to a millisecond early. An event
    is never sent before its time; a timer that fires early is simply re-armed.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, clock: Callable[[], int]) -> None:
        self.loop, self.clock, self.seq = loop, clock, 0
        self.heap: list[tuple[int, int, _Stream]] = []
        self.handle: asyncio.TimerHandle | None = None
        self.next_ns = 1 << 62

    def add(self, due_ns: int, stream: _Stream) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (due_ns, self.seq, stream))
        if due_ns < self.next_ns:
            self._arm(due_ns)

    def _arm(self, due_ns: int) -> None:
        if self.handle is not None:
            self.handle.cancel()
        delay = max(0.0, (due_ns - self.clock()) / 1e9)
        self.next_ns, self.handle = due_ns, self.loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self.handle, self.next_ns = None, 1 << 62
        heap, now = self.heap, self.clock()
        while heap and heap[0][0] <= now:
            stream = heapq.heappop(heap)[2]
            if stream.live:
                stream.step()
        if heap and self.handle is None:
            self._arm(heap[0][0])


class _Stream:
    """One streamed completion: content events paced by the server's ticker, each send logged."""

    __slots__ = (
        "conn", "script", "id", "head", "n_tok", "events", "times", "k", "log", "t0",
        "live", "include_usage", "finish", "prompt_tokens", "frames",
    )  # fmt: skip

    def __init__(self, conn: _Conn, script: Script, rid: str, body: Mapping[str, Any]) -> None:
        self.conn, self.script, self.id = conn, script, rid
        model = str(body.get("model", ""))
        self.head = b'{"id":"%s","object":"chat.completion.chunk","created":0,"model":"%s",' % (
            rid.encode(),
            model.encode(),
        )
        limit = int(body.get("max_completion_tokens") or body.get("max_tokens") or script.tokens)
        self.n_tok = max(1, min(limit, script.tokens))
        self.finish = "length" if limit < script.tokens else "stop"
        self.events = -(-self.n_tok // script.tokens_per_chunk)
        self.times = schedule(script, self.events, conn.server.rng)
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.prompt_tokens = prompt_tokens(body)
        self.k, self.live = 0, True
        self.frames: dict[int, bytes] = {}
        self.log = LogEntry(rid, conn.server.clock(), [], [])

    def start(self) -> None:
        self.t0 = self.log.recv_ns  # due times count from the request's arrival
        if self.script.fault == "hang" and self.conn.faulted:
            return  # not even headers: the client's first-byte timeout must end it
        self._send(SSE_HEAD + self._chunk(b'{"role":"assistant","content":""}'), False)
        self.conn.server.ticker.add(self.t0 + int(self.times[0] * 1e9), self)

    def _chunk(self, delta: bytes, finish: bytes = b"null", tail: bytes = b"") -> bytes:
        payload = self.head + b'"choices":[{"index":0,"delta":%s,"finish_reason":%s}]%s}' % (
            delta,
            finish,
            tail,
        )
        return frame(payload)

    def _content(self, text: str) -> bytes:
        """A content chunk; each token is a word with its leading space."""
        return self._chunk(b'{"content":"%s"}' % text.encode())

    def _send(self, data: bytes, content: bool) -> None:
        # Stamped as the event is handed to the kernel: on loopback the receiver's kernel
        # stamps it inside this very write.
        self.log.send_ns.append(self.conn.server.clock())
        self.conn.transport.write(data)
        self.log.content.append(content)

    def step(self) -> None:
        k, script = self.k, self.script
        fault = script.fault if self.conn.faulted else "none"
        midway = k == self.events // 2 and fault in ("cut", "malformed", "in_stream_error", "stall")
        if midway and self._fault_midway(fault):
            return
        first = k * script.tokens_per_chunk
        count = min(script.tokens_per_chunk, self.n_tok - first)
        if count == 1:  # the common case: one of a few words, its frame made once per stream
            word = first % len(WORDS)
            data = self.frames.get(word) or self.frames.setdefault(
                word, self._content(" " + WORDS[word])
            )
        else:
            data = self._content(
                "".join(" " + WORDS[(first + i) % len(WORDS)] for i in range(count))
            )
        self._send(data, True)
        self.k = k + 1
        if self.k < self.events:
            self.conn.server.ticker.add(self.t0 + int(self.times[self.k] * 1e9), self)
        else:
            self.finish_stream()

    def _fault_midway(self, fault: str) -> bool:
        """Inject a mid-stream fault; True when the stream ends (or stalls) here."""
        if fault == "malformed":
            self._send(frame(b'{"id":"broken","choices":[{"delta":'), False)
            return False
        if fault == "in_stream_error":
            err = error_body("synthetic in-stream failure", "server_error", "internal_error")
            self._send(frame(json.dumps(err).encode()) + frame(b"[DONE]") + b"0\r\n\r\n", False)
            self.conn.stream_done()
        elif fault == "cut":
            self.conn.transport.close()  # FIN without the chunked terminator: a cut stream
        self.live = False  # "stall": say nothing more until the client gives up
        return True

    def timings(self) -> dict[str, float]:
        """The vendor-style timing fields: queue and prompt time as scripted (the server never
        sends its first token earlier, so the client's share, TTFT minus these, is never
        negative), completion time as it ran."""
        log, queue = self.log, self.script.queue_s
        prompt = max(0.0, self.script.ttft_s - queue)
        first = log.content.index(True) if True in log.content else 0
        completion = (log.send_ns[-1] - log.send_ns[first]) / 1e9 if log.send_ns else 0.0
        return {
            "queue_time": queue,
            "prompt_time": prompt,
            "completion_time": completion,
            "total_time": queue + prompt + completion,
        }

    def usage(self) -> dict[str, Any]:
        p, c = self.prompt_tokens, self.n_tok
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def final_fields(self) -> bytes:
        """The vendor-style fields of the last chunk (Groq x_groq.usage, Cerebras time_info)."""
        if not self.script.usage:
            return b""
        if self.script.style == "groq":
            usage = self.usage() | self.timings()
            return b',"x_groq":%s' % json.dumps({"id": self.id, "usage": usage}).encode()
        if self.script.style == "cerebras":
            info = json.dumps(self.timings()).encode()
            return b',"usage":%s,"time_info":%s' % (json.dumps(self.usage()).encode(), info)
        return b""

    def finish_stream(self) -> None:
        out = self._chunk(b"{}", b'"%s"' % self.finish.encode(), self.final_fields())
        if self.script.usage and self.script.style == "openai" and self.include_usage:
            usage = json.dumps(self.usage()).encode()
            out += frame(self.head + b'"choices":[],"usage":%s}' % usage)
        self._send(out + frame(b"[DONE]") + b"0\r\n\r\n", False)
        self.live = False
        self.conn.stream_done()

    def cancel(self) -> None:
        self.live = False


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection: requests parsed by hand, answered one at a time."""

    def __init__(self, server: SyntheticServer) -> None:
        self.server, self.loop = server, asyncio.get_running_loop()
        self.buf, self.faulted = b"", False
        self.stream: _Stream | None = None
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.conns.discard(self)
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.stream is None and not self.transport.is_closing():
            request = self._take_request()
            if request is None:
                return
            self.server.handle(self, *request)

    def _take_request(self) -> tuple[str, str, dict[str, str], bytes] | None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0") or 0)
        if len(self.buf) < end + 4 + size:
            return None
        body, self.buf = self.buf[end + 4 : end + 4 + size], self.buf[end + 4 + size :]
        method, path, *_ = lines[0].split(" ") + ["", ""]
        return method, path, headers, body

    def stream_done(self) -> None:
        self.stream = None
        if self.buf:
            self.loop.call_soon(self.data_received, b"")


class SyntheticServer:
    """Routes requests, keeps the send log; serve it with start() or running()."""

    def __init__(
        self, script: Script | None, api_key: str | None, *, clock: Callable[[], int]
    ) -> None:
        self.script = check(script or Script())
        self.clock = clock  # perf_counter_ns-like: the same clock as the client's stamps
        self.api_key = api_key  # when set, requests without this bearer key get a 401
        self.rng = random.Random(self.script.seed)
        self.requests = 0
        self.log: dict[str, LogEntry] = {}
        self.port = 0
        self.conns: set[_Conn] = set()
        self.ticker: _Ticker  # made in start(), on the serving loop
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self.ticker = _Ticker(loop, self.clock)
        self._server = await loop.create_server(lambda: _Conn(self), host, port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.conns):  # wait_closed() waits for open connections too
                conn.transport.abort()
            await self._server.wait_closed()

    def handle(self, conn: _Conn, method: str, path: str, headers: dict[str, str], body: bytes):
        path = path.split("?")[0].rstrip("/")
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            err = error_body("Invalid API Key", "invalid_request_error", "invalid_api_key")
            return conn.transport.write(json_response(401, err))
        if method == "GET" and path.endswith("/models"):
            data = [
                {"id": m, "object": "model", "owned_by": "accelbench"} for m in self.script.models
            ]
            return conn.transport.write(json_response(200, {"object": "list", "data": data}))
        if method == "GET" and path.endswith("/synthetic/log"):
            return conn.transport.write(json_response(200, self.take_log()))
        if method == "POST" and path.endswith("/chat/completions"):
            return self.chat(conn, body)
        conn.transport.write(json_response(404, error_body(f"no route {path}", "not_found")))

    def take_log(self) -> dict[str, Any]:
        """The send log so far (then emptied): per request, arrival and each event's send time."""
        out = [dataclasses.asdict(e) for e in self.log.values()]
        self.log = {}
        return {"clock": "CLOCK_MONOTONIC perf_counter_ns", "requests": out}

    def chat(self, conn: _Conn, raw: bytes) -> None:
        try:
            body = json.loads(raw)
            script = self.script.merged(body.get("synthetic"))
        except (ValueError, TypeError, ConfigError, AttributeError) as exc:
            return conn.transport.write(json_response(400, error_body(str(exc), "bad_request")))
        if body.get("model") not in script.models:
            msg = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            err = error_body(msg, "invalid_request_error", "model_not_found")
            return conn.transport.write(json_response(404, err))
        self.requests += 1
        conn.faulted = script.fault != "none" and self.requests % script.fault_every == 0
        if conn.faulted and self.fail_at_once(conn, script):
            return None
        rid = f"chatcmpl-synth-{self.requests}"
        stream = _Stream(conn, script, rid, body)
        if not body.get("stream"):
            return self.whole(conn, stream)
        if len(self.log) >= _MAX_LOG:
            self.log.pop(next(iter(self.log)))
        self.log[rid] = stream.log
        conn.stream = stream
        stream.start()
        return None

    def fail_at_once(self, conn: _Conn, script: Script) -> bool:
        """HTTP-level faults answer before any stream; True when one was sent."""
        if script.fault == "401":
            err = error_body("Invalid API Key", "invalid_request_error", "invalid_api_key")
            conn.transport.write(json_response(401, err))
        elif script.fault == "429":
            limits = {
                "retry-after": f"{script.retry_after_s:g}",
                "x-ratelimit-limit-requests": "30",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{script.retry_after_s:g}s",
            }
            err = error_body("Rate limit reached", "rate_limit_exceeded", "rate_limit_exceeded")
            conn.transport.write(json_response(429, err, limits))
        elif script.fault == "500":
            conn.transport.write(
                json_response(500, error_body("synthetic failure", "server_error"))
            )
        else:
            return False
        return True

    def whole(self, conn: _Conn, stream: _Stream) -> None:
        """A non-streamed answer after the whole scripted generation time."""
        conn.stream = stream
        if stream.script.fault == "hang" and conn.faulted:
            return

        def send() -> None:
            text = "".join(" " + WORDS[i % len(WORDS)] for i in range(stream.n_tok))
            choice = {"index": 0, "message": {"role": "assistant", "content": text}}
            obj: dict[str, Any] = {
                "id": stream.id,
                "object": "chat.completion",
                "choices": [choice],
            }
            choice["finish_reason"] = stream.finish
            if stream.script.usage:
                obj["usage"] = stream.usage()
                if stream.script.style == "groq":
                    obj["usage"] |= stream.timings()
                elif stream.script.style == "cerebras":
                    obj["time_info"] = stream.timings()
            conn.transport.write(json_response(200, obj))
            conn.stream_done()

        conn.loop.call_later(stream.times[-1], lambda: send() if stream.live else None)


async def serve_until(
    server: SyntheticServer, host: str, port: int, stop: asyncio.Event, ready: Any = None
) -> None:
    """Serve until `stop` is set; `ready()` is called once the port is bound."""
    await server.start(host, port)
    if ready is not None:
        ready()
    try:
        await stop.wait()
    finally:
        await server.close()


def serve(
    server: SyntheticServer, host: str, port: int, duration_s: float = 0.0, ready: Any = None
) -> None:
    """Serve in the foreground until Ctrl-C (KeyboardInterrupt), SIGTERM or for `duration_s`
    seconds; each way ends normally, so the caller can still write the send log."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        if duration_s > 0:
            loop.call_later(duration_s, stop.set)
        await serve_until(server, host, port, stop, ready)

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())


@contextmanager
def running(
    script: Script | None = None,
    api_key: str | None = None,
    host: str = "127.0.0.1",
    *,
    clock: Callable[[], int],
) -> Iterator[SyntheticServer]:
    """A server on its own loop in a background thread (for tests and in-process checks)."""
    server = SyntheticServer(script, api_key, clock=clock)
    loop = event_loop_factory()()
    stop = asyncio.Event()
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve_until(server, host, 0, stop, ready.set))

    thread = threading.Thread(target=main, name="synthetic-server", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise ConfigError(f"the synthetic server did not start on {host}")
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
