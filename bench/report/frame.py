"""A run as a pandas DataFrame (one row per case), for CSV export and analysis."""

from __future__ import annotations

import pandas as pd

from bench.core.records import RunRecord

_COLUMNS = (
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


def cases_frame(record: RunRecord) -> pd.DataFrame:
    """Flat columns: identity, status, statistics and derived rates; raw samples stay in JSON."""
    rows = []
    for c in record.cases:
        row = {
            "run_id": record.run_id,
            "case_id": c.case_id,
            "workload": c.workload,
            "backend": c.backend,
            "scenario": c.scenario,
            "status": c.status,
            "reason": c.reason,
            "batch": c.batch,
            "rel_error": c.rel_error,
            "loops": c.loops,
            "throughput_per_s": c.throughput_per_s,
            "gflops_per_s": c.gflops_per_s,
            "gb_per_s": c.gb_per_s,
            "intensity_flop_per_byte": c.intensity_flop_per_byte,
        }
        row.update({f"param.{k}": v for k, v in c.params.items()})
        row.update({k: getattr(c.stats, k) if c.stats else None for k in _COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows)
