"""The remote side's contracts: a one-method Transport and the StreamingBackend the runner drives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from bench.backends.base import Availability
from bench.remote.wire import Endpoint, RequestFailed, Response, Sink, Timeouts

# Who runs the endpoint: claims match evidence to vendors by this id, never by names or URLs.
Vendor = Literal["openai", "groq", "cerebras", "synthetic"]
VENDORS: tuple[Vendor, ...] = ("openai", "groq", "cerebras", "synthetic")


@dataclass(slots=True)
class StreamContent:
    """What a stream said, read from its events (no clock involved)."""

    event_ns: list[int] = field(default_factory=list)
    content_ns: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    finish_reason: str = ""
    response_id: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    token_source: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    error: RequestFailed | None = None
    terminated: bool = False  # `data: [DONE]` came


@runtime_checkable
class Transport(Protocol):
    """Sends one request and streams its response into `sink` (httpx's one-method transport).

    The sink takes every stamp; a failure of any kind is raised as RequestFailed.
    """

    async def handle(self, request: bytes, sink: Sink, timeouts: Timeouts) -> Response: ...


class ChunkReader(Protocol):
    """Reads one response as it arrives: fed each stamped read, then finished."""

    def feed(self, t_ns: int, chunk: bytes) -> None: ...
    def finish(self, t_ns: int) -> StreamContent: ...


@runtime_checkable
class StreamingBackend(Protocol):
    """What the streaming runner uses of a remote backend: build, send, read, list, close."""

    name: ClassVar[str]
    vendor: ClassVar[Vendor]
    options: Mapping[str, Any]
    endpoint: Endpoint

    def probe(self) -> Availability: ...
    def close(self) -> None: ...
    def open(self, connections: int) -> None:
        """Size the connections for a load of `connections` requests in flight."""
        ...

    async def connect(self, count: int) -> None:
        """Open `count` connections ahead of the load (untimed)."""
        ...

    def request(self, fields: Mapping[str, Any]) -> bytes:
        """A complete streaming request for the workload's fields."""
        ...

    def reader(self) -> ChunkReader: ...
    async def stream(self, request: bytes, sink: Sink) -> Response: ...
    async def models(self) -> list[str]: ...
    async def get_json(self, path: str) -> Any: ...
