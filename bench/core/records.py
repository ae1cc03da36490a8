"""Immutable result records, versioned, with raw samples so every statistic can be recomputed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args, get_origin

from bench.core.decode import decode
from bench.core.errors import ConfigError, SchemaVersionError
from bench.core.jsonable import jsonable
from bench.core.policy import Policy, StopReason
from bench.core.stats import Summary, summarize

if TYPE_CHECKING:
    from bench.core.config import Planned

SCHEMA_VERSION = 1
Status = Literal["ok", "failed", "unsupported"]
Scenario = Literal["latency", "throughput"]  # a local case (MLPerf's single-stream, offline)
LoadMode = Literal["concurrency", "rate"]  # a remote chat case: closed loop or open-loop arrivals
CaseScenario = Scenario | LoadMode
RunKind = Literal["run", "chat", "calibrate"]
RunState = Literal["running", "complete", "interrupted"]
CALIBRATION_KIND: RunKind = "calibrate"  # config.kind of a calibrate run
# Why a streamed request failed: the summary counts requests per kind.
FailureKind = Literal[
    "http_3xx",
    "http_429",
    "http_4xx",
    "http_5xx",
    "connect",
    "timeout_connect",
    "timeout_first_byte",
    "timeout_idle",
    "timeout_total",
    "stream_cut",
    "truncated",
    "protocol",
    "decode",
    "client",
    "malformed_chunk",
    "stream_error",
    "canary",
    "cancelled",
]
StreamStop = Literal["", "requests", "duration", "429 (on_429=stop)"]  # what ended a chat case
CaseStop = StopReason | StreamStop  # "" (in StreamStop): before any sample, or a failed case


def _members(tp: Any) -> tuple[str, ...]:
    """The strings a Literal, or a union of Literals, admits."""
    args = get_args(tp)
    return (
        tuple(a for arg in args for a in _members(arg)) if get_origin(tp) is not Literal else args
    )


_SCENARIOS, _STOPS = _members(CaseScenario), _members(CaseStop)


def as_scenario(value: str) -> CaseScenario:
    """A scenario name checked against the closed set (planned cases carry it as a str)."""
    if value not in _SCENARIOS:
        raise ConfigError(f"unknown scenario '{value}' (known: {', '.join(_SCENARIOS)})")
    return cast(CaseScenario, value)  # a member, checked on the line above


def as_stop(value: str) -> CaseStop:
    """A stop reason checked against the closed set (imported files carry it as a str)."""
    if value not in _STOPS:
        raise ConfigError(f"unknown stop reason '{value}' (known: {', '.join(map(repr, _STOPS))})")
    return cast(CaseStop, value)  # a member, checked on the line above


@dataclass(frozen=True)
class CaseConfig:
    """One planned case as the run resolved it; `load` holds a chat case's load settings."""

    workload: str
    params: Mapping[str, Any]
    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)
    scenario: CaseScenario = "latency"
    load: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RunConfig:
    """What a run was asked to do: how it was started, its seed and policy, every case."""

    kind: RunKind
    command: str = ""
    source: str = ""
    seed: int = 0
    quick: bool = False
    input_sets: int = 1
    policy: Policy | None = None  # None: a chat run, paced by each case's load instead
    cases: tuple[CaseConfig, ...] = ()


def case_config(p: Planned) -> CaseConfig:
    """A planned local case as its run config records it."""
    return CaseConfig(
        workload=p.spec.name,
        params=dict(p.params),
        backend=p.backend,
        options=dict(p.options),
        scenario=as_scenario(p.scenario),
    )


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome. Times are per call; `sample_ns` holds raw totals of `loops` calls."""

    case_id: str
    workload: str
    params: Mapping[str, Any]
    backend: str
    options: Mapping[str, Any]
    scenario: CaseScenario
    status: Status
    reason: str = ""
    batch: int = 1
    rel_error: float | None = None
    tolerance: float | None = None
    loops: int = 0
    sample_ns: tuple[int, ...] = ()
    warmup_calls: int = 0
    stopped_by: CaseStop = ""
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
    config: RunConfig
    fingerprint: Mapping[str, Any]
    backends: Mapping[str, Any] = field(default_factory=dict)
    cases: tuple[CaseResult, ...] = ()
    finished_at: str = ""
    state: RunState = "running"
    schema_version: int = SCHEMA_VERSION

    def with_case(self, case: CaseResult) -> RunRecord:
        return dataclasses.replace(self, cases=(*self.cases, case))

    def finish(self, at: str, state: Literal["complete", "interrupted"]) -> RunRecord:
        return dataclasses.replace(self, finished_at=at, state=state)


def new_run(
    config: RunConfig,
    fingerprint: Mapping[str, Any],
    backends: Mapping[str, Mapping[str, Any]],
    stamp: str,
    run_id: str,
) -> RunRecord:
    """The one recipe for a record before any case: local, chat and calibrate runs alike.

    `stamp` and `run_id` come from bench.runner.clock (the only code that reads a clock).
    """
    return RunRecord(
        run_id=run_id,
        created_at=stamp,
        config=config,
        fingerprint=dict(fingerprint),
        backends={name: dict(info) for name, info in backends.items()},
    )


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
    failure: FailureKind | Literal[""] = ""
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
    resent: bool = False  # sent again on a fresh connection: the reused one had been closed


@dataclass(frozen=True)
class StreamSummary:
    """A remote case's aggregate: load, counts, latency statistics, goodput, client health."""

    mode: LoadMode
    concurrency: int
    rate_target_per_s: float
    arrival: Literal["constant", "poisson", ""]  # "": closed loop, no arrival process
    requests_ok: int
    requests_failed: int
    requests_warmup: int
    stopped_by: StreamStop
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
    requests_resent: int = 0


# --- JSON, both ways ---


def to_dict(record: RunRecord) -> dict[str, Any]:
    plain: dict[str, Any] = jsonable(record)
    return plain


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    plain: dict[str, Any] = jsonable(config)
    return plain


def from_dict(d: Mapping[str, Any], source: str = "results file") -> RunRecord:
    """A stored record; an unknown key or an out-of-set value is an error naming the field."""
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{source} has schema version {version!r}; this accelbench reads version "
            f"{SCHEMA_VERSION}. Re-run the benchmark, or read it with the accelbench release "
            "that wrote it (see docs/results-schema.md for the changes between versions)."
        )
    data = dict(d)
    if isinstance(data.get("config"), Mapping):
        data["config"] = _upgrade_config(data["config"])
    return decode(RunRecord, data, source)


def config_from_dict(d: Mapping[str, Any], source: str = "results file") -> RunConfig:
    return decode(RunConfig, _upgrade_config(d), source, "config")


def _upgrade_config(d: Mapping[str, Any]) -> dict[str, Any]:
    """A config as schema-1 writers before RunConfig stored it: no kind, cases without scenario."""
    out = dict(d)
    cases = out.get("cases", [])
    cases = cases if isinstance(cases, list) else []  # not a list: decode() says so
    if out.get("kind") == "calibration":
        out["kind"] = CALIBRATION_KIND
    elif "kind" not in out:
        chat = any(isinstance(c, Mapping) and "load" in c for c in cases)
        out["kind"] = "chat" if chat else "run"
    if cases:
        out["cases"] = [_upgrade_case(c, out["kind"]) for c in cases]
    return out


def _upgrade_case(case: Any, kind: str) -> Any:
    if not isinstance(case, Mapping) or "scenario" in case:
        return case
    load = case.get("load")
    if isinstance(load, Mapping) and "mode" in load:
        return {**case, "scenario": load["mode"]}
    return {**case, "scenario": "throughput" if kind == CALIBRATION_KIND else "latency"}
