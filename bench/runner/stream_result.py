"""A streamed case's result: its summary, the warnings a reader must see, and why it failed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.core.records import CaseResult, RequestRecord, StreamStop
from bench.core.stats import warnings_for
from bench.remote import chat
from bench.remote import metrics as chat_metrics
from bench.remote.chat import ChatCase, Load


def failed_reason(summary: Any, load: Load) -> str:
    """Why the case failed ('' when it did not): nothing worked, or more failed than allowed."""
    if summary.requests_ok == 0:
        return all_failed_reason(summary)
    failed, total = summary.requests_failed, summary.requests_ok + summary.requests_failed
    if failed / total <= load.max_failed_fraction:
        return ""
    kind, count = max(summary.failures.items(), key=lambda kv: kv[1])
    return (
        f"{failed} of {total} requests failed ({failed / total:.0%}), more than"
        f" max_failed_fraction={load.max_failed_fraction:g} allows; most often {kind}"
        f" ({count}): {summary.failure_examples[kind]}"
    )


def all_failed_reason(summary: Any) -> str:
    """Why nothing worked, from the most common failure: e.g. '401 from api.groq.com: ...'."""
    if not summary.failures:
        return "no request was measured"
    kind, count = max(summary.failures.items(), key=lambda kv: kv[1])
    total = summary.requests_failed
    return f"every request failed ({count} of {total}: {kind}): {summary.failure_examples[kind]}"


@dataclass(frozen=True)
class Driven:
    """What a case's driver leaves behind: its requests, why it stopped, its clock origin."""

    records: Sequence[RequestRecord]
    stopped_by: StreamStop
    origin_ns: int
    read_delays: Any  # array('q') of ns, one per read
    verify_off: bool  # TLS verification was turned off for this backend


def case_result(
    case: ChatCase, driven: Driven, health: chat_metrics.ClientHealth, started: str
) -> CaseResult:
    records = sorted(driven.records, key=lambda r: r.index)
    delays = np.frombuffer(driven.read_delays, dtype=np.int64) / 1e9 if driven.read_delays else ()
    health = dataclasses.replace(health, read_delay_s=delays)
    summary = chat_metrics.summarize_case(
        records, case.load, health, driven.stopped_by, driven.origin_ns
    )
    warnings = list(summary.notes)
    if driven.verify_off:
        warnings.append(
            "TLS verification OFF (verify=false): the endpoint's identity was not checked"
        )
    if summary.requests_resent:
        warnings.append(
            f"{summary.requests_resent} request(s) re-sent once on a fresh connection: the"
            " server had closed the reused one before answering"
        )
    if summary.client_bound:
        warnings.append(
            f"client-bound: the client, not the server, set the pace ({summary.client_bound_reason})"
        )
    if summary.ttft is not None:
        # the local runner's advice (--min-time, threads) does not apply here: keep the fact
        warnings += [f"TTFT {w.split('; raise')[0]}" for w in warnings_for(summary.ttft)]
    reason = failed_reason(summary, case.load)
    return CaseResult(
        **case_fields(case, started),
        status="failed" if reason else "ok",
        reason=reason,
        stats=summary.ttft,
        throughput_per_s=summary.requests_per_s,
        warmup_calls=summary.requests_warmup,
        stopped_by=summary.stopped_by,
        requests=tuple(records),
        stream=summary,
        warnings=tuple(warnings),
    )


def case_fields(case: ChatCase, started: str) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "workload": chat.WORKLOAD,
        "params": dict(case.params),
        "backend": case.backend,
        "options": dict(case.options),
        "scenario": case.load.mode,
        "started_at": started,
    }
