"""The synthetic server's script (timing, faults, styles), its schedule and its HTTP framing."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bench.core.errors import ConfigError

Fault = Literal["none", "401", "429", "500", "cut", "malformed", "in_stream_error", "hang", "stall"]
FAULTS: tuple[str, ...] = Fault.__args__  # type: ignore[attr-defined]
Style = Literal["openai", "groq", "cerebras"]
STYLES: tuple[str, ...] = Style.__args__  # type: ignore[attr-defined]
WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


@dataclass(frozen=True)
class Script:
    """How the server answers: timing, output length, timing-field style, faults."""

    ttft_s: float = 0.05
    itl_s: float = 0.005
    tokens: int = 128
    tokens_per_chunk: int = 1
    jitter_s: float = 0.0
    queue_s: float = 0.0
    style: Style = "openai"
    usage: bool = True
    fault: Fault = "none"
    fault_every: int = 1
    retry_after_s: float = 1.0
    models: tuple[str, ...] = ("synthetic-1",)
    seed: int = 0

    def merged(self, override: Mapping[str, Any] | None) -> Script:
        """This script with a request's `synthetic` overrides applied (unknown keys rejected)."""
        if not override:
            return self
        known = {f.name for f in dataclasses.fields(self)} - {"models", "seed"}
        return check(dataclasses.replace(self, **{k: v for k, v in override.items() if k in known}))


def check(script: Script) -> Script:
    """The script itself, or ConfigError naming the bad field."""
    if script.style not in STYLES:
        raise ConfigError(f"synthetic style '{script.style}' (choose from: {', '.join(STYLES)})")
    if script.fault not in FAULTS:
        raise ConfigError(f"synthetic fault '{script.fault}' (choose from: {', '.join(FAULTS)})")
    if script.tokens < 1 or script.tokens_per_chunk < 1 or script.fault_every < 1:
        raise ConfigError("synthetic tokens, tokens_per_chunk and fault_every must be >= 1")
    if min(script.ttft_s, script.itl_s, script.jitter_s, script.queue_s) < 0:
        raise ConfigError("synthetic times must be >= 0")
    return script


@dataclass
class LogEntry:
    """The server's own record of one streamed request: when it arrived and each send."""

    id: str
    recv_ns: int
    send_ns: list[int]
    content: list[bool]


def _status_line(code: int) -> bytes:
    reasons = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
    reasons |= {400: "Bad Request", 500: "Internal Server Error"}
    return f"HTTP/1.1 {code} {reasons.get(code, 'Error')}\r\n".encode()


def json_response(code: int, obj: Any, extra: Mapping[str, str] | None = None) -> bytes:
    body = json.dumps(obj).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
    return (
        _status_line(code)
        + f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{head}\r\n".encode()
        + body
    )


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)


def frame(payload: bytes) -> bytes:
    """One SSE event as one HTTP/1.1 chunk."""
    data = b"data: " + payload + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """Words across all messages: the synthetic prompts are built at about one token a word."""
    messages = body.get("messages") or []
    return sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))


def schedule(script: Script, events: int, rng: random.Random) -> list[float]:
    """Offsets (s) from arrival of each content event: TTFT, then chunk gaps, with jitter."""
    gap = script.itl_s * script.tokens_per_chunk
    times, t = [], 0.0
    for k in range(events):
        base = script.ttft_s if k == 0 else gap
        jit = rng.uniform(-script.jitter_s, script.jitter_s) if script.jitter_s else 0.0
        t += max(0.0, base + jit)
        times.append(t)
    return times
