"""Pure statistics over samples: percentiles, spread, confidence intervals of the median."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
# Below these counts a percentile is mostly the extreme sample: say so.
MIN_SAMPLES_FOR = {"p90": 10, "p99": 100}


@dataclass(frozen=True)
class Summary:
    """Statistics of per-call times in seconds; ci_* bound the median at `confidence`."""

    n: int
    min_s: float
    median_s: float
    mean_s: float
    stddev_s: float
    iqr_s: float
    p90_s: float
    p99_s: float
    ci_low_s: float
    ci_high_s: float
    confidence: float = CONFIDENCE


def median_ci_bootstrap(
    values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0, resamples: int = 2000
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median (seeded, so a stored run recomputes exactly)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 3 or np.all(x == x[0]):
        m = float(np.median(x))
        return m, m
    res = sps.bootstrap(
        (x,),
        np.median,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def median_ci_order(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free order-statistic interval of the median: cheap, for stopping rules."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 6:
        return float(x.min()), float(x.max())
    ci = sps.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(confidence)
    low = float(ci.low) if np.isfinite(ci.low) else float(x.min())
    high = float(ci.high) if np.isfinite(ci.high) else float(x.max())
    return low, high


def summarize(values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0) -> Summary:
    """Every statistic the records keep, from raw per-call values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no samples to summarise")
    q25, q50, q75, q90, q99 = np.percentile(x, [25, 50, 75, 90, 99])
    low, high = median_ci_bootstrap(x, confidence, seed)
    return Summary(
        n=int(x.size),
        min_s=float(x.min()),
        median_s=float(q50),
        mean_s=float(x.mean()),
        stddev_s=float(x.std(ddof=1)) if x.size > 1 else 0.0,
        iqr_s=float(q75 - q25),
        p90_s=float(q90),
        p99_s=float(q99),
        ci_low_s=low,
        ci_high_s=high,
        confidence=confidence,
    )


def relative_ci_halfwidth(low: float, high: float, center: float) -> float:
    return (high - low) / 2 / center if center > 0 else float("inf")


def warnings_for(s: Summary, noisy_iqr: float = 0.10) -> list[str]:
    """Plain-words cautions a reader needs beside the numbers."""
    notes = []
    if s.median_s > 0 and s.iqr_s / s.median_s > noisy_iqr:
        notes.append(
            f"IQR is {100 * s.iqr_s / s.median_s:.0f}% of the median: the machine is noisy;"
            " raise --min-time or pin threads"
        )
    for name, needed in MIN_SAMPLES_FOR.items():
        if s.n < needed:
            notes.append(
                f"{name} rests on {s.n} samples (needs about {needed}): read it as the max"
            )
            break
    return notes
