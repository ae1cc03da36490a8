"""Chat cases as gateable timings: per-request TTFT, E2E and TPOT become one timed case each."""

from __future__ import annotations

import dataclasses

from bench.core.records import CaseResult, RequestRecord, RunRecord

# Each is a time per request (up is worse); TPOT is the inverse of the after-first-token speed.
METRICS = ("ttft_s", "e2e_s", "tpot_s")


def _samples(requests: tuple[RequestRecord, ...], metric: str) -> tuple[int, ...]:
    """The metric of every measured (ok, not warm-up) request, in ns."""
    values = (getattr(r, metric) for r in requests if r.status == "ok" and not r.warmup)
    return tuple(round(v * 1e9) for v in values if v is not None and v > 0)


def metric_cases(case: CaseResult) -> list[CaseResult]:
    """A chat case as one case per metric (id `<case id> <metric>`), raw per-request values
    as samples of one call each; a case without requests is itself."""
    if not case.requests:
        return [case]
    out = []
    for metric in METRICS:
        samples = _samples(case.requests, metric)
        out.append(
            dataclasses.replace(
                case,
                case_id=f"{case.case_id} {metric.removesuffix('_s')}",
                loops=1,
                sample_ns=samples,
                requests=(),
                stream=None,
                status=case.status if samples or case.status != "ok" else "failed",
                reason=case.reason or ("" if samples else f"no request measured {metric}"),
            )  # fmt: skip
        )
    return out


def expand_requests(record: RunRecord) -> RunRecord:
    """The run with every chat case split into its per-request metric cases."""
    if not any(c.requests for c in record.cases):
        return record
    cases = tuple(m for c in record.cases for m in metric_cases(c))
    return dataclasses.replace(record, cases=cases)
