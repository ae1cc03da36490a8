"""Immutable result records, versioned, with raw samples so every statistic can be recomputed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.errors import SchemaVersionError
from bench.stats import Summary, summarize

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
    return _plain(dataclasses.asdict(record))


def _plain(value: Any) -> Any:
    """JSON-ready: mappings to dicts, tuples to lists, non-finite floats to strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, str) and value in ("nan", "inf", "-inf") else value


def case_from_dict(d: Mapping[str, Any]) -> CaseResult:
    known = {f.name for f in dataclasses.fields(CaseResult)}
    data = {k: v for k, v in d.items() if k in known}
    data["sample_ns"] = tuple(data.get("sample_ns", ()))
    data["warnings"] = tuple(data.get("warnings", ()))
    data["rel_error"] = _float(data.get("rel_error"))
    if data.get("stats") is not None:
        data["stats"] = Summary(**data["stats"])
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
