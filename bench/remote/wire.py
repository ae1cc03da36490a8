"""A lean HTTP/1.1 client for streaming: asyncio protocols, httptools' C parser, a pool, no retries."""

# Why not httpx or aiohttp: on this project's 2-core machines httpx (h11, pure Python) costs
# ~130 µs of CPU per streamed read and aiohttp ~40 µs; this client, which hands each read to a
# stamping sink straight from data_received and parses with httptools (llhttp, as uvicorn
# does), costs ~15 µs. The harness must not be the bottleneck, so the hot path stays here.
# Not supported, on purpose: HTTP proxies, HTTP/2, redirects (a 3xx is a failure naming its
# Location), retries (a retried request is not one request). The one exception: a request that
# fails on a reused keep-alive connection before any response byte came back was never
# answered (the server had closed it), so it is sent once more on a fresh connection, and the
# record says so.

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from bench.core.errors import BackendError
from bench.core.optional import require
from bench.core.records import FailureKind
from bench.remote import sockets

_ERROR_BODY_LIMIT = 65_536


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
    """One request failed; `kind` classifies it for the summary, the message says why.

    `unanswered`: no response byte had arrived when it failed (the server may never have seen it).
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        status: int = 0,
        headers: Mapping[str, str] | None = None,
        unanswered: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind, self.status, self.headers = kind, status, dict(headers or {})
        self.unanswered = unanswered


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: parsed once from the base URL."""

    scheme: str
    host: str
    port: int
    path: str
    query: str = ""  # kept on every request (Azure-style `?api-version=`)
    absolute: bool = False  # plain HTTP through a proxy: the target in absolute form

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"base_url '{url}' must look like https://host[:port]/v1")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise BackendError(f"base_url '{url}' has a bad port") from None
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), parts.query)

    @property
    def authority(self) -> str:
        """host[:port] as the Host header wants it: an IPv6 literal in brackets (RFC 9110 §7.2)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def target(self, path: str) -> str:
        """The request target for `path` under the base URL, with the base URL's query."""
        joined = f"{self.path}{path}"
        if self.absolute:
            joined = f"{self.scheme}://{self.authority}{joined}"
        if not self.query:
            return joined
        return f"{joined}{'&' if '?' in joined else '?'}{self.query}"


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


_NO_BODY = (204, 304)
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Conn(asyncio.Protocol):
    """One keep-alive connection; llhttp parses, each read goes to the sink as it arrives."""

    def __init__(self, httptools: Any) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.parse_error: type[Exception] = httptools.HttpParserError
        self.transport: asyncio.Transport | None = None
        self.closed, self.reads, self.t_ns, self.exchanges = False, 0, 0, 0
        self.sink: Sink | None = None
        self.done: asyncio.Future[None] | None = None
        self.deadline: _Deadline | None = None
        self.response = Response(0)
        self.until_close = False  # body delimited by the connection's close (RFC 9112 §6.3)
        self.inflate: Any = None
        self.reads_at_begin = 0

    def begin(self, sink: Sink, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A new exchange on this connection; the future resolves when the response is whole."""
        self.sink, self.response = sink, Response(0)
        self.exchanges += 1
        self.until_close, self.inflate, self.reads_at_begin = False, None, self.reads
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
            # llhttp wraps what a callback raised (as __context__): the decoder's own failure,
            # or a bug in the reader downstream: the client's failure, never a server cut
            inner = exc.__context__
            if isinstance(inner, RequestFailed):
                self._fail(inner)
            elif isinstance(inner, Exception):
                self.client_error(inner)
            else:
                self._fail(RequestFailed("protocol", f"bad HTTP from the server: {exc}"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        response = self.response
        response.status = status = self.parser.get_status_code()
        headers = response.headers
        framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "")
        self.until_close = not framed and status >= 200 and status not in _NO_BODY
        coding = headers.get("content-encoding", "identity").strip().lower()
        if coding in _DECODERS:  # asked for identity; a server may compress anyway
            self.inflate = zlib.decompressobj(_DECODERS[coding])
        elif coding not in ("identity", ""):
            raise RequestFailed("decode", f"the server sent content-encoding '{coding}'")
        self.sink.headers(status)  # type: ignore[union-attr]
        if self.deadline is not None:
            self.deadline.answered()

    def on_body(self, data: bytes) -> None:
        if self.inflate is not None:
            try:
                data = self.inflate.decompress(data)
            except zlib.error as exc:
                raise RequestFailed("decode", f"cannot decompress the body: {exc}") from None
        if 200 <= self.response.status < 300:
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
        if self.until_close and exc is None and self.done is not None:
            self.until_close = False  # the close is the body's end: the response is whole
            return self.on_message_complete()
        why = f" ({exc})" if exc else ""
        if self.response.status:
            return self._fail(RequestFailed("stream_cut", f"connection closed mid-response{why}"))
        unanswered = self.reads_at_begin == self.reads
        message = f"connection closed before any response{why}"
        return self._fail(RequestFailed("stream_cut", message, unanswered=unanswered))

    def client_error(self, exc: Exception) -> None:
        """A bug on this side while reading: the request fails as the client's, not a cut."""
        self._fail(RequestFailed("client", f"client error reading the response: {exc!r}"))

    def _fail(self, error: RequestFailed) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class Pool:
    """The default Transport: keep-alive connections to one endpoint, at most `limit` open;
    idle ones reused LIFO, each checked for a close the server did not announce."""

    def __init__(
        self,
        endpoint: Endpoint,
        limit: int,
        kernel_stamps: bool = True,
        tls: ssl.SSLContext | None = None,
        proxy: tuple[Endpoint, str] | None = None,
    ) -> None:
        self.endpoint, self.limit = endpoint, max(1, limit)
        self.kernel_stamps = kernel_stamps and sockets.KERNEL_STAMPS
        self.httptools = require("httptools", "remote")
        self.idle: list[_Conn] = []
        self.open, self.resent, self.stale = 0, 0, 0
        self._free: asyncio.Condition | None = None
        self.proxy = proxy  # (the proxy, its Proxy-Authorization value or '')
        self._ssl: ssl.SSLContext | None = None
        if endpoint.scheme == "https":
            from bench.remote import tls as tlsmod

            self._ssl = tls or tlsmod.context(tlsmod.Trust())

    def _take_idle(self) -> _Conn | None:
        while self.idle:
            conn = self.idle.pop()
            transport = conn.transport
            if (
                conn.closed
                or transport is None
                or transport.is_closing()
                or sockets.readable(transport)
            ):
                self.stale += not conn.closed
                self._drop(conn)
                continue
            return conn
        return None

    def _drop(self, conn: _Conn) -> None:
        self.open -= 1
        conn.closed = True
        if conn.transport is not None:
            conn.transport.close()

    async def acquire(self, timeouts: Timeouts, fresh: bool = False) -> _Conn:
        """An idle connection at once, else a new one, else wait for one (within total_s)."""
        conn = None if fresh else self._take_idle()
        if conn is not None:
            return conn
        try:
            async with asyncio.timeout(timeouts.total_s):
                return await self._open_or_wait(timeouts.connect_s, fresh)
        except TimeoutError:
            raise RequestFailed(
                "timeout_total", f"no connection free within {timeouts.total_s:g} s"
            ) from None

    async def _open_or_wait(self, connect_s: float, fresh: bool) -> _Conn:
        if self.open >= self.limit:
            if self._free is None:
                self._free = asyncio.Condition()
            async with self._free:
                await self._free.wait_for(lambda: bool(self.idle) or self.open < self.limit)
            conn = None if fresh else self._take_idle()
            if conn is not None:
                return conn
            if fresh and self.open >= self.limit and self.idle:
                self._drop(self.idle.pop(0))  # the oldest idle one makes room
        self.open += 1
        try:
            return await self._connect(connect_s)
        except BaseException:
            self.open -= 1
            raise

    async def _connect(self, timeout_s: float) -> _Conn:
        loop, ep = asyncio.get_running_loop(), self.endpoint
        stamped = self._ssl is None and self.kernel_stamps
        make = lambda: _Conn(self.httptools)  # noqa: E731
        try:
            async with asyncio.timeout(timeout_s):
                sock = await self._dial(stamped)
                if stamped:
                    conn = make()
                    conn.connection_made(sockets.StampedSocket(sock, conn, loop))  # type: ignore[arg-type]
                    return conn
                hostname = ep.host if self._ssl else None
                _, conn = await loop.create_connection(
                    make, sock=sock, ssl=self._ssl, server_hostname=hostname
                )
        except TimeoutError:
            raise RequestFailed(
                "timeout_connect", f"no connection to {ep.authority} in {timeout_s:g} s"
            ) from None
        except ssl.SSLError as exc:  # before OSError: SSLError is one
            raise RequestFailed("connect", f"TLS with {ep.authority} failed: {exc}") from None
        except OSError as exc:
            via = f" via proxy {self.proxy[0].authority}" if self.proxy else ""
            raise RequestFailed(
                "connect", f"cannot connect to {ep.authority}{via}: {exc.strerror or exc}"
            ) from None
        return conn

    async def _dial(self, stamped: bool) -> socket.socket:
        """A socket to the endpoint, or to the proxy (tunnelled with CONNECT for HTTPS)."""
        ep = self.endpoint
        if self.proxy is None:
            return await sockets.dial(ep.host, ep.port, stamped)
        via, auth = self.proxy
        sock = await sockets.dial(via.host, via.port, stamped)
        if ep.scheme == "https":
            try:
                await sockets.tunnel(sock, ep.authority, auth)
            except BaseException:
                sock.close()
                raise
        return sock

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
        conn.sink, conn.done, conn.deadline = None, None, None
        if conn.closed or conn.transport is None or conn.transport.is_closing():
            self._drop(conn)
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
        """Close every idle connection; call it while the event loop still runs."""
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        self.open = 0


class _Deadline:
    """One timer per request for all three limits: no headers by `first_byte_s`, silence for
    `idle_s` once the headers are in, not done by `total_s`."""

    def __init__(self, conn: _Conn, t: Timeouts, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        self.conn, self.t, self.loop, self.seen = conn, t, loop, -1
        self.total_at = now + t.total_s
        self.handle = loop.call_at(min(now + t.first_byte_s, self.total_at), self.check)

    def answered(self) -> None:
        """Headers are in: from now on silence is what counts (idle_s), not the first byte."""
        self.handle.cancel()
        self.seen = self.conn.reads
        at = min(self.loop.time() + self.t.idle_s, self.total_at)
        self.handle = self.loop.call_at(at, self.check)

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
    """Send one request and stream its response into `sink`; every failure is RequestFailed.

    Sent again, once, on a fresh connection when a reused one failed before any response
    byte: the server had closed it unannounced. `sink.sent()` is then called a second time.
    """
    conn = await pool.acquire(timeouts)
    try:
        return await _send(pool, conn, request, sink, timeouts)
    except RequestFailed as exc:
        if not (exc.unanswered and conn.exchanges > 1):
            raise
    pool.resent += 1
    conn = await pool.acquire(timeouts, fresh=True)
    return await _send(pool, conn, request, sink, timeouts)


async def _send(
    pool: Pool, conn: _Conn, request: bytes, sink: Sink, timeouts: Timeouts
) -> Response:
    finished = False
    try:
        loop = asyncio.get_running_loop()
        done = conn.begin(sink, loop)
        sink.sent()
        conn.deadline = deadline = _Deadline(conn, timeouts, loop)
        conn.transport.write(request)  # type: ignore[union-attr]
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


def _usual(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _checked(name: str, value: str) -> str:
    if any(c in value for c in "\r\n\0") or any(c in name for c in "\r\n\0: "):
        raise BackendError(f"header '{name.strip()}' holds a line break or NUL: refused")
    return value


def request_bytes(method: str, endpoint: Endpoint, path: str, headers: Mapping[str, str]) -> bytes:
    """The request head (without body); a header name or value with CR, LF or NUL is refused
    (it would smuggle a header or a second request), naming the header, never its value."""
    lines = [f"{method} {endpoint.target(path)} HTTP/1.1", f"Host: {endpoint.authority}"]
    # names in their usual case: some intermediaries (proxy.py) match them case-sensitively
    lines += [f"{_usual(k)}: {_checked(k, v)}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop where installed (several times less CPU per event), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop
