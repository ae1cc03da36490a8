"""Sockets for the HTTP client: every resolved address tried, reads stamped by the kernel."""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import sys
from typing import Any, Protocol

_READ_SIZE = 16_384  # recvmsg allocates this much per call: big buffers cost CPU
_ANCILLARY_SIZE = 64
# Kernel receive stamps (Linux); 0 where the platform has none: user-space stamps then.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else 0)
_TIMESPEC = struct.Struct("@qq")
KERNEL_STAMPS = bool(_SO_TIMESTAMPNS)


class Receiver(Protocol):
    """What a stamped socket hands its reads to (wire's connection)."""

    def data_received(self, data: bytes, kernel_ns: int = 0) -> None: ...
    def connection_lost(self, exc: Exception | None) -> None: ...
    def client_error(self, exc: Exception) -> None: ...


class StampedSocket:
    """A plain-TCP transport that reads with recvmsg and SO_TIMESTAMPNS: every read carries
    the kernel's receive time, so a client busy or descheduled when bytes arrive still stamps
    them when they arrived. TLS connections use the event loop's transport (user-space stamps).
    """

    def __init__(
        self, sock: socket.socket, conn: Receiver, loop: asyncio.AbstractEventLoop
    ) -> None:
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
        except Exception as exc:  # noqa: BLE001 - a client bug: this request fails, not the loop
            self.conn.client_error(exc)
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

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" and not self.closing else default

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


async def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """Every address for host:port, in the resolver's order (tests replace this)."""
    loop = asyncio.get_running_loop()
    return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def dial(host: str, port: int, kernel_stamps: bool) -> socket.socket:
    """A connected socket: each resolved address tried in order (dual-stack hosts: `localhost`
    may resolve to ::1 first where the server listens on 127.0.0.1 only)."""
    loop, errors = asyncio.get_running_loop(), []
    for family, kind, proto, _, address in await resolve(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if kernel_stamps:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            await loop.sock_connect(sock, address)
            return sock
        except OSError as exc:
            sock.close()
            errors.append(f"{address[0]}: {exc.strerror or exc}")
        except BaseException:
            sock.close()
            raise
    raise OSError("; ".join(errors) or "the name resolved to no address")


def readable(transport: Any) -> bool:
    """Unread bytes or EOF on an idle connection: the server closed it (or sent what nobody
    asked for); either way it must not carry the next request."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        ready, _, _ = select.select([sock.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


async def tunnel(sock: socket.socket, authority: str, auth: str = "") -> None:
    """CONNECT `authority` through the proxy at the other end of `sock` (RFC 9110 §9.3.6);
    a refusal raises OSError with the proxy's status line."""
    loop = asyncio.get_running_loop()
    head = f"CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n"
    if auth:
        head += f"proxy-authorization: {auth}\r\n"
    await loop.sock_sendall(sock, (head + "\r\n").encode("latin-1"))
    answer = b""
    while b"\r\n\r\n" not in answer:
        part = await loop.sock_recv(sock, 4096)
        if not part or len(answer) > 65_536:
            raise OSError(f"the proxy closed the CONNECT to {authority} without an answer")
        answer += part
    status = answer.split(b"\r\n", 1)[0].decode("latin-1")
    if status.split(" ")[1:2] != ["200"]:
        raise OSError(f"the proxy refused CONNECT {authority}: {status}")
