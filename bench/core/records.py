"""Immutable result records, versioned, with raw samples so every statistic can be recomputed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.core.errors import SchemaVersionError
from bench.core.jsonable import jsonable
from bench.core.stats import Summary, summarize

CALIBRATION_KIND = "calibration"  # config["kind"] of a calibrate run
SCHEMA_VERSION = 1
Status = Literal["ok", "failed", "unsupported"]
Scenario = Literal["latency", "throughput"]


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome. Times are per call; `sample_ns` holds raw totals of `loops` calls."""

    case_id: str
    workload: str
    params: Mapping[str, Any]
    backend: str
    options: Mapping[str, Any]
    scenario: str
    status: Status
    reason: str = ""
    batch: int = 1
    rel_error: float | None = None
    tolerance: float | None = None
    loops: int = 0
    sample_ns: tuple[int, ...] = ()
    warmup_calls: int = 0
    stopped_by: str = ""
    stats: Summary | None = None
    flops: int | None = None
    bytes_moved: int | None = None
    throughput_per_s: float | None = None
    gflops_per_s: float | None = None
    gb_per_s: float | None = None
    intensity_flop_per_byte: float | None = None
    input_sets: int = 1
    threads: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    started_at: str = ""
    warnings: tuple[str, ...] = ()
    # Remote streaming cases (workload "chat") only: every request, raw, and the run's summary.
    requests: tuple[RequestRecord, ...] = ()
    stream: StreamSummary | None = None

    def per_call_s(self) -> list[float]:
        return [ns / self.loops / 1e9 for ns in self.sample_ns] if self.loops else []

    def recomputed_stats(self) -> Summary:
        """The statistics from the raw samples, as a reader of the file would compute them."""
        return summarize(self.per_call_s())


@dataclass(frozen=True)
class RunRecord:
    """A whole run: config, fingerprint, backends and every finished case."""

    run_id: str
    created_at: str
    config: Mapping[str, Any]
    fingerprint: Mapping[str, Any]
    backends: Mapping[str, Any] = field(default_factory=dict)
    cases: tuple[CaseResult, ...] = ()
    finished_at: str = ""
    state: Literal["running", "complete", "interrupted"] = "running"
    schema_version: int = SCHEMA_VERSION

    def with_case(self, case: CaseResult) -> RunRecord:
        return dataclasses.replace(self, cases=(*self.cases, case))

    def finish(self, at: str, state: Literal["complete", "interrupted"]) -> RunRecord:
        return dataclasses.replace(self, finished_at=at, state=state)


def to_dict(record: RunRecord) -> dict[str, Any]:
    plain: dict[str, Any] = jsonable(record)
    return plain


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, str) and value in ("nan", "inf", "-inf") else value


_FLOAT_FIELDS = (
    "rel_error",
    "tolerance",
    "throughput_per_s",
    "gflops_per_s",
    "gb_per_s",
    "intensity_flop_per_byte",
)


def case_from_dict(d: Mapping[str, Any]) -> CaseResult:
    known = {f.name for f in dataclasses.fields(CaseResult)}
    data = {k: v for k, v in d.items() if k in known}
    data["sample_ns"] = tuple(data.get("sample_ns", ()))
    data["warnings"] = tuple(data.get("warnings", ()))
    for name in _FLOAT_FIELDS:  # "nan"/"inf" strings back to floats, wherever they were written
        if name in data:
            data[name] = _float(data[name])
    if data.get("stats") is not None:
        data["stats"] = Summary(**{k: _float(v) for k, v in data["stats"].items()})
    data["requests"] = tuple(request_from_dict(r) for r in data.get("requests", ()))
    if data.get("stream") is not None:
        data["stream"] = stream_from_dict(data["stream"])
    return CaseResult(**data)


def from_dict(d: Mapping[str, Any], source: str = "results file") -> RunRecord:
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{source} has schema version {version!r}; this accelbench reads version "
            f"{SCHEMA_VERSION}. Re-run the benchmark, or read it with the accelbench release "
            "that wrote it (see docs/results-schema.md for the changes between versions)."
        )
    known = {f.name for f in dataclasses.fields(RunRecord)}
    data = {k: v for k, v in d.items() if k in known}
    data["cases"] = tuple(case_from_dict(c) for c in d.get("cases", ()))
    return RunRecord(**data)


# --- remote streaming records (chat workload) ---


@dataclass(frozen=True)
class RequestRecord:
    """One streamed request, raw: stamps in ns from the case's clock origin, metrics in s.

    `event_ns` stamps every SSE event when its bytes arrived; `content_ns` those that carried
    content; `itl_s` the gaps between content events. Failed requests keep what arrived.
    """

    index: int
    warmup: bool
    status: Literal["ok", "failed"]
    reason: str = ""
    failure: str = ""
    http_status: int = 0
    scheduled_ns: int = 0
    sent_ns: int | None = None
    headers_ns: int | None = None
    last_ns: int | None = None
    event_ns: tuple[int, ...] = ()
    content_ns: tuple[int, ...] = ()
    itl_s: tuple[float, ...] = ()
    ttft_s: float | None = None
    e2e_s: float | None = None
    tpot_s: float | None = None
    output_tokens_per_s: float | None = None
    output_tokens: int | None = None
    input_tokens: int | None = None
    token_source: str = ""
    tokens_per_chunk: float | None = None
    finish_reason: str = ""
    server_timings_s: Mapping[str, float] = field(default_factory=dict)
    network_client_s: float | None = None
    retry_after_s: float | None = None
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    response_id: str = ""
    read_delay_max_s: float | None = None


@dataclass(frozen=True)
class StreamSummary:
    """A remote case's aggregate: load, counts, latency statistics, goodput, client health."""

    mode: str
    concurrency: int
    rate_target_per_s: float
    arrival: str
    requests_ok: int
    requests_failed: int
    requests_warmup: int
    stopped_by: str
    failures: Mapping[str, int] = field(default_factory=dict)
    failure_examples: Mapping[str, str] = field(default_factory=dict)
    clock_origin_ns: int = 0
    window_start_ns: int = 0
    window_end_ns: int = 0
    achieved_rate_per_s: float | None = None
    requests_per_s: float | None = None
    output_tokens_per_s: float | None = None
    ttft: Summary | None = None
    e2e: Summary | None = None
    itl: Summary | None = None
    tpot: Summary | None = None
    output_speed_tokens_per_s: Mapping[str, float] = field(default_factory=dict)
    network_client: Summary | None = None
    slo_ttft_s: float = 0.0
    slo_tpot_s: float = 0.0
    goodput_requests_per_s: float | None = None
    goodput_fraction: float | None = None
    token_sources: Mapping[str, int] = field(default_factory=dict)
    rate_limits: Mapping[str, str] = field(default_factory=dict)
    retry_after_s: float | None = None
    client_cpu_cores: float | None = None
    client_rss_mb: float | None = None
    loop_lag_p50_s: float | None = None
    loop_lag_p99_s: float | None = None
    loop_lag_max_s: float | None = None
    send_lag_p99_s: float | None = None
    client_bound: bool = False
    client_bound_reason: str = ""
    notes: tuple[str, ...] = ()
    stamp_source: str = ""
    read_delay_p99_s: float | None = None


def request_from_dict(d: Mapping[str, Any]) -> RequestRecord:
    known = {f.name for f in dataclasses.fields(RequestRecord)}
    data = {k: v for k, v in d.items() if k in known}
    for name in ("event_ns", "content_ns", "itl_s"):
        data[name] = tuple(data.get(name, ()))
    return RequestRecord(**data)


def stream_from_dict(d: Mapping[str, Any]) -> StreamSummary:
    known = {f.name for f in dataclasses.fields(StreamSummary)}
    data = {k: _float(v) for k, v in d.items() if k in known}
    for name in ("ttft", "e2e", "itl", "tpot", "network_client"):
        if data.get(name) is not None:
            data[name] = Summary(**{k: _float(v) for k, v in data[name].items()})
    data["notes"] = tuple(data.get("notes", ()))
    return StreamSummary(**data)
