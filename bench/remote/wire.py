"""A lean HTTP/1.1 client for streaming: asyncio protocols, httptools' C parser, a pool, no retries."""

# Why not httpx or aiohttp: on this project's 2-core machines httpx (h11, pure Python) costs
# ~130 µs of CPU per streamed read and aiohttp ~40 µs; this client, which hands each read to a
# stamping sink straight from data_received and parses with httptools (llhttp, as uvicorn
# does), costs ~15 µs. The harness must not be the bottleneck, so the hot path stays here.
# Not supported, on purpose: HTTP proxies, HTTP/2, redirects, retries (a retried request is not
# one request).

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from bench.core.errors import BackendError
from bench.core.optional import require
from bench.core.records import FailureKind

_ERROR_BODY_LIMIT = 65_536
_READ_SIZE = 16_384  # recvmsg allocates this much per call: big buffers cost CPU
_ANCILLARY_SIZE = 64
# Kernel receive stamps (Linux); 0 where the platform has none: user-space stamps then.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else 0)
_TIMESPEC = struct.Struct("@qq")


class Sink(Protocol):
    """Where a response goes; the runner implements it and takes every timestamp."""

    def sent(self) -> None: ...
    def headers(self, status: int) -> None: ...
    def mark(self, kernel_ns: int = 0) -> int:
        """Bytes arrived (`kernel_ns`: the kernel's receive stamp, if any); returns the stamp."""
        ...

    def feed(self, t_ns: int, data: bytes) -> None:
        """Body bytes, with the stamp of the read that brought them."""
        ...


class RequestFailed(BackendError):
    """One request failed; `kind` classifies it for the summary, the message says why."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        status: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind, self.status, self.headers = kind, status, dict(headers or {})


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: parsed once from the base URL."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"base_url '{url}' must look like https://host[:port]/v1")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0
    first_byte_s: float = 60.0
    idle_s: float = 60.0
    total_s: float = 600.0


@dataclass
class Response:
    """What came back besides the streamed body (which went to the sink)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    error_body: bytes = b""


class _Conn(asyncio.Protocol):
    """One keep-alive connection; llhttp parses, each read goes to the sink as it arrives."""

    def __init__(self, httptools: Any) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.parse_error: type[Exception] = httptools.HttpParserError
        self.transport: asyncio.Transport | None = None
        self.closed, self.reads, self.t_ns = False, 0, 0
        self.sink: Sink | None = None
        self.done: asyncio.Future[None] | None = None
        self.response = Response(0)

    def begin(self, sink: Sink, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A new exchange on this connection; the future resolves when the response is whole."""
        self.sink, self.response = sink, Response(0)
        self.done = loop.create_future()
        return self.done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes, kernel_ns: int = 0) -> None:
        """Bytes arrived; `kernel_ns` is the kernel's receive stamp (CLOCK_REALTIME) when known."""
        self.reads += 1
        if self.sink is None:  # bytes nobody asked for: the connection is not reusable
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
            return
        self.t_ns = self.sink.mark(kernel_ns)
        try:
            self.parser.feed_data(data)
        except self.parse_error as exc:
            self._fail(RequestFailed("protocol", f"bad HTTP from the server: {exc}"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.response.status = self.parser.get_status_code()
        self.sink.headers(self.response.status)  # type: ignore[union-attr]

    def on_body(self, data: bytes) -> None:
        if self.response.status < 400:
            self.sink.feed(self.t_ns, data)  # type: ignore[union-attr]
        elif len(self.response.error_body) < _ERROR_BODY_LIMIT:
            self.response.error_body += data

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        why = f" ({exc})" if exc else ""
        self._fail(RequestFailed("stream_cut", f"connection closed mid-response{why}"))

    def _fail(self, error: RequestFailed) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class _StampedSocket:
    """A plain-TCP transport that reads with recvmsg and SO_TIMESTAMPNS: every read carries
    the kernel's receive time, so a client busy or descheduled when bytes arrive still stamps
    them when they arrived. TLS connections use the event loop's transport (user-space stamps).
    """

    def __init__(self, sock: socket.socket, conn: _Conn, loop: asyncio.AbstractEventLoop) -> None:
        self.sock, self.conn, self.loop, self.fd = sock, conn, loop, sock.fileno()
        self.pending, self.closing = b"", False
        loop.add_reader(self.fd, self._read)

    def _read(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(_READ_SIZE, _ANCILLARY_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            return self._lost(exc)
        if not data:
            return self._lost(None)
        kernel_ns = 0
        if ancillary:  # SO_TIMESTAMPNS is the only control message asked for
            sec, nsec = _TIMESPEC.unpack_from(ancillary[0][2])
            kernel_ns = sec * 1_000_000_000 + nsec
        try:
            self.conn.data_received(data, kernel_ns)
        except (
            Exception
        ) as exc:  # a bug downstream: end this connection (its request fails), not the loop
            self._lost(exc)
        return None

    def write(self, data: bytes) -> None:
        if self.closing:
            return
        if self.pending:
            self.pending += data
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            return self._lost(exc)
        if sent < len(data):
            self.pending = data[sent:]
            self.loop.add_writer(self.fd, self._flush)
        return None

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            return self._lost(exc)
        self.pending = self.pending[sent:]
        if not self.pending:
            self.loop.remove_writer(self.fd)
        return None

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self._lost(None)

    abort = close

    def _lost(self, exc: Exception | None) -> None:
        if self.closing:
            return
        self.closing = True
        self.loop.remove_reader(self.fd)
        if self.pending:
            self.loop.remove_writer(self.fd)
        self.sock.close()
        self.conn.connection_lost(exc)


async def _open_stamped(ep: Endpoint, make: Callable[[], _Conn]) -> _Conn:
    """A plain-TCP connection whose reads carry kernel receive stamps."""
    loop = asyncio.get_running_loop()
    family, kind, proto, _, address = (
        await loop.getaddrinfo(ep.host, ep.port, type=socket.SOCK_STREAM)
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    conn = make()
    conn.connection_made(_StampedSocket(sock, conn, loop))  # type: ignore[arg-type]
    return conn


class Pool:
    """The default Transport: keep-alive connections to one endpoint, at most `limit` open;
    idle ones reused LIFO."""

    def __init__(self, endpoint: Endpoint, limit: int, kernel_stamps: bool = True) -> None:
        self.endpoint, self.limit = endpoint, max(1, limit)
        self.kernel_stamps = kernel_stamps and bool(_SO_TIMESTAMPNS)
        self.httptools = require("httptools", "remote")
        self.idle: list[_Conn] = []
        self.open = 0
        self._free: asyncio.Condition | None = None
        self._ssl = ssl.create_default_context() if endpoint.scheme == "https" else None

    async def acquire(self, timeouts: Timeouts) -> _Conn:
        """An idle connection at once, else a new one, else wait for one (within total_s)."""
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
            self.open -= 1
        try:
            async with asyncio.timeout(timeouts.total_s):
                return await self._open_or_wait(timeouts.connect_s)
        except TimeoutError:
            raise RequestFailed(
                "timeout_total", f"no connection free within {timeouts.total_s:g} s"
            ) from None

    async def _open_or_wait(self, connect_s: float) -> _Conn:
        if self.open >= self.limit:
            if self._free is None:
                self._free = asyncio.Condition()
            async with self._free:
                await self._free.wait_for(lambda: bool(self.idle) or self.open < self.limit)
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed:
                    return conn
                self.open -= 1
        self.open += 1
        try:
            return await self._connect(connect_s)
        except BaseException:
            self.open -= 1
            raise

    async def _connect(self, timeout_s: float) -> _Conn:
        loop, ep = asyncio.get_running_loop(), self.endpoint
        hostname = ep.host if self._ssl else None
        make = lambda: _Conn(self.httptools)  # noqa: E731
        try:
            async with asyncio.timeout(timeout_s):
                if self._ssl is None and self.kernel_stamps:
                    return await _open_stamped(ep, make)
                _, conn = await loop.create_connection(
                    make, ep.host, ep.port, ssl=self._ssl, server_hostname=hostname
                )
        except TimeoutError:
            raise RequestFailed(
                "timeout_connect", f"no connection to {ep.authority} in {timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise RequestFailed(
                "connect", f"cannot connect to {ep.authority}: {exc.strerror or exc}"
            ) from None
        return conn

    async def warm(self, count: int, timeout_s: float) -> None:
        """Open up to `count` connections before timing starts (untimed, like a prepare step);
        a failure here is left for the requests themselves to meet and record."""
        count = min(count, self.limit - self.open)
        self.open += count
        made = await asyncio.gather(
            *(self._connect(timeout_s) for _ in range(count)), return_exceptions=True
        )
        for conn in made:
            if isinstance(conn, _Conn):
                self.idle.append(conn)
            elif isinstance(conn, RequestFailed):
                self.open -= 1
            else:  # anything else is a bug in this client, not the endpoint's failure
                raise conn

    def release(self, conn: _Conn) -> None:
        conn.sink, conn.done = None, None
        if conn.closed or conn.transport is None or conn.transport.is_closing():
            self.open -= 1
            if conn.transport is not None:
                conn.transport.close()
        else:
            self.idle.append(conn)
        if self._free is not None:
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        assert self._free is not None
        async with self._free:
            self._free.notify()

    async def handle(self, request: bytes, sink: Sink, timeouts: Timeouts) -> Response:
        """The Transport method: one request over a pooled connection."""
        return await exchange(self, request, sink, timeouts)

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        self.open = 0


class _Deadline:
    """One timer per request for all three limits: no headers by `first_byte_s`, silence for
    `idle_s` mid-response, not done by `total_s`. (Three timers per request cost more CPU.)"""

    def __init__(self, conn: _Conn, t: Timeouts, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        self.conn, self.t, self.loop, self.seen = conn, t, loop, -1
        self.total_at, self.first_at = now + t.total_s, now + t.first_byte_s
        self.handle = loop.call_at(min(self.first_at, self.total_at), self.check)

    def check(self) -> None:
        now, conn, t = self.loop.time(), self.conn, self.t
        if now >= self.total_at - 1e-3:  # timers may fire a little early
            return conn._fail(
                RequestFailed("timeout_total", f"not finished within {t.total_s:g} s")
            )
        if conn.response.status == 0:
            return conn._fail(
                RequestFailed("timeout_first_byte", f"no response within {t.first_byte_s:g} s")
            )
        if conn.reads == self.seen:
            return conn._fail(
                RequestFailed("timeout_idle", f"no data for {t.idle_s:g} s mid-response")
            )
        self.seen = conn.reads
        self.handle = self.loop.call_at(min(now + t.idle_s, self.total_at), self.check)
        return None

    def cancel(self) -> None:
        self.handle.cancel()


async def exchange(pool: Pool, request: bytes, sink: Sink, timeouts: Timeouts) -> Response:
    """Send one request and stream its response into `sink`; every failure is RequestFailed."""
    conn = await pool.acquire(timeouts)
    finished = False
    try:
        loop = asyncio.get_running_loop()
        done = conn.begin(sink, loop)
        sink.sent()
        conn.transport.write(request)  # type: ignore[union-attr]
        deadline = _Deadline(conn, timeouts, loop)
        try:
            await done
        finally:
            deadline.cancel()
        finished = True
        return conn.response
    finally:
        if not finished:  # half a response is left on the wire: never reuse it
            conn.closed = True
        pool.release(conn)


def request_bytes(method: str, endpoint: Endpoint, path: str, headers: Mapping[str, str]) -> bytes:
    """The request head (without body); header values are the caller's, written as given."""
    lines = [f"{method} {endpoint.path}{path} HTTP/1.1", f"host: {endpoint.authority}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop where installed (several times less CPU per event), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop
