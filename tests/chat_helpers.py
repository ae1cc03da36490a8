"""Helpers for remote (chat) tests: run a chat case in-process against a loopback endpoint."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.core.records import CaseResult
from bench.remote import chat
from bench.runner.streaming import StreamSession

FAST = {"first_byte_timeout_s": 5.0, "idle_timeout_s": 5.0, "total_timeout_s": 20.0}
# Kernel receive stamps are put on the run's clock through a realtime offset whose bracket is
# microseconds; this leaves room for a descheduled bracket. A wrong event is off by >= 2 ms.
CONVERSION_SLACK_NS = 1_000_000


def server_sends(log: dict[str, Any], response_id: str) -> tuple[int, list[int]]:
    """From the synthetic server's own send log: (arrival, send time of each content event)."""
    [entry] = [e for e in log["requests"] if e["id"] == response_id]
    sends = [t for t, c in zip(entry["send_ns"], entry["content"], strict=True) if c]
    return entry["recv_ns"], sends


def run_chat(
    base_url: str,
    load: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    script: dict[str, Any] | None = None,
    backend: str = "synthetic",
    **options: Any,
) -> list[CaseResult]:
    """Run one chat case (or a sweep); `script` rides in the request as the server's override."""
    opts = {"base_url": base_url, **FAST, **options}
    if script is not None:
        opts["extra"] = {"synthetic": script}
    data = {
        "run": {"backends": [backend]},
        "backend_options": {backend: opts},
        "case": [
            {
                "workload": "chat",
                "params": {"input_tokens": 8, "max_tokens": 16, **(params or {})},
                "load": {"requests": 4, **(load or {})},
            }
        ],
    }
    suite = chat.parse_suite(data, "test")
    return list(StreamSession(suite.seed).run(suite.cases))


@contextmanager
def served(*args: str) -> Iterator[str]:
    """`accelbench serve-synthetic` in its own process (its own GIL): yields the base URL."""
    cmd = [sys.executable, "-m", "bench", "serve-synthetic", "--port", "0", "--duration-s", "120"]
    proc = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "listening on http://127.0.0.1:PORT/v1", or "" if it died
        assert line.startswith("listening on "), f"serve-synthetic did not start: {line!r}"
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)
