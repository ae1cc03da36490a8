"""Runs as a tidy pandas DataFrame (one row per case), for CSV export and analysis."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import pandas as pd

from bench.core import run_info
from bench.core.records import CaseResult, RunRecord, StreamSummary

_STATS = (
    "median_s",
    "p90_s",
    "p99_s",
    "min_s",
    "mean_s",
    "stddev_s",
    "iqr_s",
    "ci_low_s",
    "ci_high_s",
    "n",
)
# A remote case's summary as flat columns: (column, summary field, statistic or None).
_STREAM = (
    ("concurrency", "concurrency", None),
    ("rate_target_per_s", "rate_target_per_s", None),
    ("requests_ok", "requests_ok", None),
    ("requests_failed", "requests_failed", None),
    ("ttft_p50_s", "ttft", "median_s"),
    ("ttft_p90_s", "ttft", "p90_s"),
    ("ttft_p99_s", "ttft", "p99_s"),
    ("itl_p50_s", "itl", "median_s"),
    ("tpot_p50_s", "tpot", "median_s"),
    ("e2e_p50_s", "e2e", "median_s"),
    ("e2e_p99_s", "e2e", "p99_s"),
    ("requests_per_s", "requests_per_s", None),
    ("output_tokens_per_s", "output_tokens_per_s", None),
    ("goodput_requests_per_s", "goodput_requests_per_s", None),
)


def _stream_columns(s: StreamSummary | None) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column, name, stat in _STREAM:
        value = getattr(s, name) if s is not None else None
        row[column] = getattr(value, stat) if stat and value is not None else value
    speed = s.output_speed_tokens_per_s if s is not None else {}
    row["output_speed_p50_tokens_per_s"] = speed.get("median")
    return row


def case_row(record: RunRecord, c: CaseResult) -> dict[str, Any]:
    """One case as flat columns: run, identity, status, statistics, rates, params."""
    row = {
        "run_id": record.run_id,
        "created_at": record.created_at,
        "commit": run_info.commit(record),
        "case_id": c.case_id,
        "workload": c.workload,
        "backend": c.backend,
        "scenario": c.scenario,
        "status": c.status,
        "reason": c.reason,
        "batch": c.batch,
        "rel_error": c.rel_error,
        "loops": c.loops,
        "samples": len(c.sample_ns),
        "throughput_per_s": c.throughput_per_s,
        "gflops_per_s": c.gflops_per_s,
        "gb_per_s": c.gb_per_s,
        "intensity_flop_per_byte": c.intensity_flop_per_byte,
    }
    row.update({k: getattr(c.stats, k) if c.stats else None for k in _STATS})
    if c.stream is not None or c.workload == "chat":
        row.update(_stream_columns(c.stream))
    row.update({f"param.{k}": v for k, v in c.params.items()})
    return row


def cases_frame(record: RunRecord) -> pd.DataFrame:
    """One run, one row per case; raw samples stay in the JSON file."""
    return runs_frame([record])


def runs_frame(runs: Iterable[RunRecord]) -> pd.DataFrame:
    """Several runs stacked, one row per case; integer columns stay integers (nullable)."""
    rows = [case_row(r, c) for r in runs for c in r.cases]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    data = {k: _typed([row.get(k) for row in rows]) for k in columns}
    return pd.DataFrame(data, columns=columns)


def _typed(values: list[Any]) -> pd.Series:
    """Whole numbers as Int64 (not float with NaN for the rows that lack them)."""
    present = [v for v in values if v is not None and not _missing(v)]
    ints = [v for v in present if isinstance(v, numbers.Integral) and not isinstance(v, bool)]
    if present and len(ints) == len(present):
        return pd.Series(values, dtype="Int64")
    return pd.Series(values)


def _missing(value: Any) -> bool:
    return isinstance(value, float) and value != value
