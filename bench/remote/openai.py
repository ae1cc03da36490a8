"""The generic OpenAI-compatible streaming backend (`openai`); vendor adapters subclass it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any, ClassVar

from bench.backends.base import Availability, BackendInfo, Case, Prepared, resolve_options
from bench.core.errors import BackendError, UnsupportedCase
from bench.core.workloads import Param
from bench.remote import tls, wire
from bench.remote.options import (  # noqa: F401 - remote_options: the adapters' import
    Secret,
    remote_options,
    resolve_api_key,
    resolve_proxy,
    resolve_trust,
)
from bench.remote.protocol import StreamContent, StreamingBackend, Transport, Vendor
from bench.remote.sse import Decoder, Event

try:  # orjson parses a chunk ~3x faster than json; optional, the result is the same
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - depends on the environment
    from json import loads as _loads  # type: ignore[assignment]

import msgspec


# The hot path decodes each chunk into these, not into dicts: msgspec checks the whole JSON
# and builds only the fields read here (about 2.5x cheaper per chunk than orjson + dict
# lookups). Content fields are Any: vendors disagree on their types, and any value counts.
class _Delta(msgspec.Struct):
    content: Any = None
    reasoning: Any = None
    reasoning_content: Any = None
    tool_calls: Any = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: Any = None


class _Chunk(msgspec.Struct):
    id: Any = None
    choices: list[_Choice] | None = None
    error: Any = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode


def _error_message(obj: Any) -> str:
    """The server's own words: OpenAI {"error": {...}}, vLLM {"object": "error", "message"},
    FastAPI {"detail": str | [{"msg"}]}, or a bare {"message"}."""
    if not isinstance(obj, dict):
        return str(obj)[:300]
    err = obj.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or err)[:300]
    if isinstance(err, str) and err:
        return err[:300]
    detail = obj.get("detail")
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    for said in (obj.get("message"), detail):
        if said:
            return str(said)[:300]
    return json.dumps(obj)[:300]


class OpenAIBackend:
    """Streaming chat completions against any OpenAI-compatible endpoint (vLLM, SGLang, ...)."""

    name: ClassVar[str] = "openai"
    local: ClassVar[bool] = False
    vendor: ClassVar[Vendor] = "openai"
    key_hint: ClassVar[str] = ""
    options_spec: ClassVar[tuple[Param, ...]] = remote_options("http://127.0.0.1:8000/v1", "")

    def __init__(
        self, options: dict[str, Any] | None = None, transport: Transport | None = None
    ) -> None:
        self.options = resolve_options(self.name, self.options_spec, options)
        self.endpoint = wire.Endpoint.parse(self.options["base_url"])
        self.key_env: str = self.options["api_key_env"]
        self._key = Secret(resolve_api_key(self.key_env))
        self.check_extra(self.options["extra"])
        o = self.options
        self.timeouts = wire.Timeouts(
            o["connect_timeout_s"],
            o["first_byte_timeout_s"],
            o["idle_timeout_s"],
            o["total_timeout_s"],
        )
        self.trust = resolve_trust(o)
        self.proxy = resolve_proxy(o["proxy"], self.endpoint)
        if self.proxy is not None and self.endpoint.scheme == "http":
            self.endpoint = dataclasses.replace(self.endpoint, absolute=True)
        self._tls = tls.context(self.trust) if self.endpoint.scheme == "https" else None
        # A transport handed in belongs to the caller, who sizes, warms and closes it.
        self._given = transport
        self._pool: wire.Pool | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.options['base_url']!r}, key={self._key!r})"

    # --- the backend contract ---

    def probe(self) -> Availability:
        if self.key_env and not self._key:
            hint = f" ({self.key_hint})" if self.key_hint else ""
            return Availability(False, f"{self.key_env} is not set: export your API key{hint}")
        try:
            import httptools  # noqa: F401
        except ImportError:
            return Availability(False, "httptools is not installed: pip install httptools")
        model = self.options["model"] or "model: set per run"
        return Availability(True, f"{self.endpoint.authority} ({model})")

    def describe(self) -> BackendInfo:
        details = {
            "base_url": self.options["base_url"],
            "model": self.options["model"],
            "api_key_env": self.key_env,
            "transport": "HTTP/1.1 over asyncio + httptools, no retries"
            if self._given is None
            else type(self._given).__name__,
            "vendor": self.vendor,
            "tls": self.trust.describe() if self._tls is not None else "",
            "proxy": self.proxy.describe() if self.proxy is not None else "",
        }
        return BackendInfo(
            self.name, metadata.version("accelbench"), f"remote {self.endpoint.authority}", details
        )

    def prepare(self, case: Case) -> Prepared:
        raise UnsupportedCase(f"backend '{self.name}' is remote: it runs the 'chat' workload only")

    def sync(self) -> None:
        return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # --- vendor hooks (override in adapters) ---

    def check_extra(self, extra: Mapping[str, Any]) -> None:
        """Reject request fields the vendor refuses, before anything runs."""

    def adapt(self, body: dict[str, Any]) -> dict[str, Any]:
        """The vendor's request quirks, applied to every body."""
        return body

    def usage(self, obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str]:
        """The token counts in one chunk, and where they were found."""
        usage = obj.get("usage")
        return (usage, "usage") if isinstance(usage, dict) else (None, "")

    def server_timings(self, obj: Mapping[str, Any]) -> dict[str, float]:
        """Server-side queue/prompt/completion/total seconds in one chunk, if the vendor sends them."""
        return {}

    # --- requests ---

    def open(self, connections: int) -> None:
        """Size the connection pool for the load (the option, when set, wins)."""
        self.close()
        if self._given is None:
            size = self.options["max_connections"] or connections
            via = (self.proxy.endpoint, self.proxy.auth) if self.proxy is not None else None
            self._pool = wire.Pool(
                self.endpoint, size, self.options["kernel_stamps"], self._tls, via
            )

    async def connect(self, count: int) -> None:
        """Open `count` pooled connections ahead of the load (untimed)."""
        if self._given is not None:
            return
        if self._pool is None:
            self.open(count)
        assert self._pool is not None
        await self._pool.warm(count, self.timeouts.connect_s)

    def transport(self) -> Transport:
        """The transport requests go through: the one handed in, else a pool of one."""
        if self._given is not None:
            return self._given
        if self._pool is None:
            self.open(1)
        assert self._pool is not None
        return self._pool

    def _head(self, method: str, path: str, extra: Mapping[str, str]) -> bytes:
        # identity: a compressed stream would be buffered by the server's compressor
        headers = {"user-agent": "accelbench", "accept-encoding": "identity", **extra}
        if self._key:
            headers["authorization"] = f"Bearer {self._key.reveal()}"
        return wire.request_bytes(method, self.endpoint, path, headers)

    def request(self, fields: Mapping[str, Any]) -> bytes:
        """A complete streaming chat request (head and body) for the workload's fields."""
        body: dict[str, Any] = {"model": self.options["model"], **fields, "stream": True}
        if self.options["include_usage"]:
            body["stream_options"] = {"include_usage": True}
        payload = json.dumps(self.adapt({**body, **self.options["extra"]})).encode()
        head = self._head(
            "POST",
            "/chat/completions",
            {
                "content-type": "application/json",
                "accept": "text/event-stream",
                "content-length": str(len(payload)),
            },
        )
        return head + b"\r\n" + payload

    async def stream(self, request: bytes, sink: wire.Sink) -> wire.Response:
        """Send `request`; the body streams into `sink`; an HTTP error raises RequestFailed."""
        response = await self.transport().handle(request, sink, self.timeouts)
        if not 200 <= response.status < 300:
            raise self.http_failure(response)
        return response

    def http_failure(self, response: wire.Response) -> wire.RequestFailed:
        """An HTTP error as a failure whose message names the next step (never the key)."""
        status, host = response.status, self.endpoint.host
        if status < 200 or 300 <= status < 400:  # not followed: a redirected request is another
            where = response.headers.get("location", "no Location header")
            message = f"{status} from {host}: redirected to {where}; set base_url to the target"
            return wire.RequestFailed("http_3xx", message, status)
        try:
            detail = _error_message(json.loads(response.error_body))
        except ValueError:
            detail = response.error_body[:200].decode("utf-8", "replace").strip()
        message = f"{status} from {host}: {self._key.scrub(detail) or 'no detail'}"
        if status in (401, 403):
            message += (
                f"; check {self.key_env}"
                if self.key_env
                else "; the endpoint wants a key: set api_key_env"
            )
        kind = "http_429" if status == 429 else "http_5xx" if status >= 500 else "http_4xx"
        limits = {
            k: v
            for k, v in response.headers.items()
            if k == "retry-after" or k.startswith("x-ratelimit-")
        }
        return wire.RequestFailed(kind, message, status, limits)  # type: ignore[arg-type]

    async def get_json(self, path: str) -> Any:
        """GET `path` under the base URL as JSON (untimed: /models and the like)."""
        sink = _Collect()
        request = self._head("GET", path, {"accept": "application/json"}) + b"\r\n"
        response = await self.transport().handle(request, sink, self.timeouts)
        if not 200 <= response.status < 300:
            raise self.http_failure(response)
        try:
            return json.loads(b"".join(sink.parts))
        except ValueError as exc:
            raise BackendError(f"{self.endpoint.authority}{path}: not JSON ({exc})") from None

    async def models(self) -> list[str]:
        """Model ids the endpoint serves (GET /models)."""
        answer = await self.get_json("/models")
        try:
            return sorted(str(m["id"]) for m in answer["data"])
        except (KeyError, TypeError) as exc:
            raise BackendError(
                f"{self.endpoint.authority}/models: unexpected answer ({exc})"
            ) from None

    # --- reading a stream (pure: the stamps come from the runner) ---

    def reader(self) -> StreamReader:
        """An incremental reader for one response: fed each read as it arrives."""
        return StreamReader(self)

    def read_events(self, events: list[Event]) -> StreamContent:
        """The same reading, over events already split (tests, stored streams)."""
        reader = self.reader()
        for t_ns, data, name in events:
            reader.event(t_ns, data, name)
        return reader.finish(events[-1].t_ns if events else 0)


class StreamReader:
    """Reads one OpenAI-style stream as it arrives: events split, parsed, content stamped.

    Parsing as bytes arrive spreads the work evenly; parsing whole streams at their end would
    block the loop (and delay other streams' stamps) whenever many requests finish together.
    """

    __slots__ = ("backend", "decoder", "out", "tail")

    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend, self.decoder = backend, Decoder()
        self.out = StreamContent()
        self.tail: tuple[bytes, ...] = (b"", b"", b"")  # the last three chunks, raw

    def feed(self, t_ns: int, chunk: bytes) -> None:
        """One read, stamped by the runner when it arrived."""
        decoder = self.decoder
        if decoder.buf or decoder.skip_lf or not chunk.endswith(b"\n\n") or b"\r" in chunk:
            for ev in decoder.feed(t_ns, chunk):
                self.event(*ev)
            return
        if (
            chunk.find(b"\n\n") == len(chunk) - 2 and chunk[:6] == b"data: "
        ):  # one event: most reads
            block = chunk[6:-2]
            if b"\n" not in block:
                self.event(t_ns, block, "")
                return
        for block in chunk[:-2].split(b"\n\n"):  # whole `data:` events
            if block[:6] == b"data: " and b"\n" not in block:
                self.event(t_ns, block[6:], "")
            else:
                for ev in decoder.feed(t_ns, block + b"\n\n"):
                    self.event(*ev)

    def event(self, t_ns: int, data: bytes, name: str) -> None:
        out = self.out
        out.event_ns.append(t_ns)
        if data == b"[DONE]":
            out.terminated = True
            return
        if name == "error":  # the server's words, JSON or not
            return self._bad(_json_or_text(data), data)
        try:
            chunk = _decode_chunk(data)
        except msgspec.DecodeError:  # not JSON, or not a chunk's shape (ValidationError too)
            return self._bad(None, data)
        if name == "error" or chunk.error is not None:
            return self._bad(_loads(data), data)  # valid JSON: the whole object for the message
        choices = chunk.choices
        if choices:  # the first choice only: requests ask for one (Groq accepts nothing else)
            choice = choices[0]
            delta = choice.delta
            if delta is not None and (
                delta.content or delta.reasoning or delta.reasoning_content or delta.tool_calls
            ):  # text, reasoning or a tool call; a role-only chunk is not a token
                out.content_ns.append(t_ns)
                out.text.append(delta.content if isinstance(delta.content, str) else "")
            if choice.finish_reason:
                out.finish_reason = str(choice.finish_reason)
        if not out.response_id:
            out.response_id = str(chunk.id or "")
        self.tail = (self.tail[1], self.tail[2], data)  # usage/timings are read from these
        return None

    def _bad(self, obj: Any, data: bytes) -> None:
        """A malformed chunk or an error object: the request fails with it (the first one)."""
        out = self.out
        if out.error is not None:
            return
        if isinstance(obj, str):
            msg = self.backend._key.scrub(obj[:300])
            out.error = wire.RequestFailed("stream_error", f"error inside the 200 stream: {msg}")
        elif type(obj) is not dict:
            shown = data[:60].decode("utf-8", "replace")
            out.error = wire.RequestFailed("malformed_chunk", f"malformed chunk: {shown!r}")
        else:
            msg = self.backend._key.scrub(_error_message(obj))
            out.error = wire.RequestFailed("stream_error", f"error inside the 200 stream: {msg}")

    def finish(self, t_ns: int) -> StreamContent:
        """End of stream: an unterminated last event counts; usage and timings from the tail."""
        for ev in self.decoder.flush(t_ns):
            self.event(*ev)
        out = self.out
        # usage and timings ride on the last chunks (vLLM may repeat usage on every chunk):
        # only those few are parsed in full, for the vendor hooks
        for obj in reversed([_loads(t) for t in self.tail if t]):
            usage, source = self.backend.usage(obj)
            if usage is not None and out.completion_tokens is None:
                out.prompt_tokens = _int(usage.get("prompt_tokens"))
                out.completion_tokens = _int(usage.get("completion_tokens"))
                out.token_source = source
            out.timings_s = out.timings_s or self.backend.server_timings(obj)
        return out


def _json_or_text(data: bytes) -> Any:
    try:
        obj = _loads(data)
    except ValueError:
        return data.decode("utf-8", "replace").strip()
    return obj if isinstance(obj, dict) else str(obj)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def timings_from(table: Any) -> dict[str, float]:
    """queue/prompt/completion/total seconds from a vendor table (Groq usage, Cerebras time_info)."""
    if not isinstance(table, dict):
        return {}
    out = {}
    for name in ("queue", "prompt", "completion", "total"):
        value = table.get(f"{name}_time")
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{name}_s"] = float(value)
    return out


class _Collect:
    """A sink for small untimed answers (/models): keeps the body, stamps nothing."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def sent(self) -> None:
        return None

    def headers(self, status: int) -> None:
        return None

    def mark(self, kernel_ns: int = 0) -> int:
        return 0

    def feed(self, t_ns: int, data: bytes) -> None:
        self.parts.append(data)


if TYPE_CHECKING:  # mypy holds the adapters to the contract the streaming runner relies on
    _CONFORMS: type[StreamingBackend] = OpenAIBackend
