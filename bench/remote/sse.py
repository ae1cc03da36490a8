"""Server-sent events from stamped byte chunks: each event keeps the stamp of the read that completed it."""

# Why not httpx-sse: it reads from an httpx response line by line and knows nothing of when
# bytes arrived. Here the runner stamps raw reads in the hot path and this parser runs later,
# over (stamp, bytes) pairs, so the event boundary logic must carry stamps through.
# It follows the WHATWG event-stream rules that matter for LLM endpoints: CRLF/CR/LF line ends,
# multi-line `data:`, `event:` names, `:` comments (keep-alive pings are not events).

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Event(NamedTuple):
    """One dispatched event: when its last byte arrived, its data, its `event:` name if any."""

    t_ns: int
    data: bytes
    event: str = ""


def _block(block: bytes, t_ns: int) -> Event | None:
    """One blank-line-delimited block to an Event; None for comment-only or data-less blocks."""
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case, fast
        return Event(t_ns, block[6:])
    data: list[bytes] = []
    name = ""
    for line in block.split(b"\n"):
        field, colon, value = line.partition(b":")
        if not colon:
            field, value = line, b""
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    return Event(t_ns, b"\n".join(data), name) if data else None


class Decoder:
    """Incremental: feed (stamp, bytes) as they came; completed events come out stamped."""

    __slots__ = ("buf", "skip_lf")

    def __init__(self) -> None:
        self.buf, self.skip_lf = b"", False

    def feed(self, t_ns: int, chunk: bytes) -> list[Event]:
        if self.skip_lf:  # the last read ended on CR: an LF opening this one is the same line end
            self.skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self.skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = (self.buf + chunk).split(b"\n\n")
        self.buf = blocks.pop()
        return [e for b in blocks if b and (e := _block(b, t_ns)) is not None]

    def flush(self, t_ns: int) -> list[Event]:
        """At end of stream: an unterminated last event is kept (lenient), then the buffer clears."""
        rest, self.buf = self.buf.strip(b"\n"), b""
        event = _block(rest, t_ns) if rest else None
        return [event] if event is not None else []


def decode(chunks: Iterable[tuple[int, bytes]]) -> list[Event]:
    """Every event in a stamped chunk sequence, in order.

    Fast path (most reads from LLM servers): nothing buffered, no CR, the read ends on an event
    boundary; then the read splits on blank lines without copying into the buffer.
    """
    decoder, events, last = Decoder(), [], 0
    for t_ns, chunk in chunks:
        last = t_ns
        if decoder.buf or decoder.skip_lf or b"\r" in chunk or not chunk.endswith(b"\n\n"):
            events += decoder.feed(t_ns, chunk)
            continue
        for block in chunk[:-2].split(b"\n\n"):
            if block[:6] == b"data: " and b"\n" not in block:
                events.append(Event(t_ns, block[6:]))
            elif block and (event := _block(block, t_ns)) is not None:
                events.append(event)
    return events + decoder.flush(last)
