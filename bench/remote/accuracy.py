"""The harness's own error: client stamps set against the synthetic server's log of each send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.core.errors import BenchError
from bench.core.records import CaseResult


@dataclass(frozen=True)
class Accuracy:
    """Errors in seconds; TTFT error is signed (client stamp minus server send, late > 0),
    inter-token error is the absolute difference between client and server gaps."""

    case_id: str
    requests: int
    ttft_error_median_s: float
    ttft_error_p99_s: float
    itl_error_median_s: float
    itl_error_p99_s: float
    client_bound: bool
    client_bound_reason: str


def _content_sends(entry: Mapping[str, Any]) -> list[int]:
    return [t for t, c in zip(entry["send_ns"], entry["content"], strict=True) if c]


def _errors(
    case: CaseResult, log: Mapping[str, Mapping[str, Any]]
) -> tuple[list[float], list[float], int]:
    assert case.stream is not None
    origin = case.stream.clock_origin_ns
    ttft, itl, matched = [], [], 0
    for r in case.requests:
        entry = log.get(r.response_id)
        if r.warmup or r.status != "ok" or entry is None:
            continue
        sent = _content_sends(entry)
        if len(sent) != len(r.content_ns):
            continue  # the client saw another number of content events: not comparable
        client = np.asarray(r.content_ns, dtype=np.int64) + origin
        server = np.asarray(sent, dtype=np.int64)
        ttft.append((client[0] - server[0]) / 1e9)
        itl += list(np.abs(np.diff(client) - np.diff(server)) / 1e9)
        matched += 1
    return ttft, itl, matched


def compare(case: CaseResult, log: Mapping[str, Any]) -> Accuracy:
    """Match the case's requests to the log by response id; error if nothing matched."""
    by_id = {e["id"]: e for e in log.get("requests", [])}
    if case.stream is None:
        raise BenchError(
            f"{case.case_id}: not a streaming case ({case.reason or 'no stream data'})"
        )
    ttft, itl, matched = _errors(case, by_id)
    if not matched:
        raise BenchError(
            f"{case.case_id}: no request matches the server log: was the log taken from the "
            "server this run used, and before anything cleared it?"
        )
    return Accuracy(
        case.case_id,
        matched,
        float(np.median(ttft)),
        float(np.percentile(ttft, 99)),
        float(np.median(itl)) if itl else 0.0,
        float(np.percentile(itl, 99)) if itl else 0.0,
        case.stream.client_bound,
        case.stream.client_bound_reason,
    )


def compare_all(cases: Sequence[CaseResult], log: Mapping[str, Any]) -> list[Accuracy]:
    return [compare(c, log) for c in cases if c.stream is not None and c.stream.requests_ok]
