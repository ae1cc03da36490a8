"""Pure statistics over samples: percentiles, spread, confidence intervals of the median."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

CONFIDENCE = 0.95
Values = Sequence[float] | npt.NDArray[np.float64]  # every function here takes either
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
    values: Values, confidence: float = CONFIDENCE, seed: int = 0, resamples: int = 2000
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


def median_ci_order(values: Values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Distribution-free order-statistic interval of the median: cheap, for stopping rules."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 6:
        return float(x.min()), float(x.max())
    ci = sps.quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(confidence)
    low = float(ci.low) if np.isfinite(ci.low) else float(x.min())
    high = float(ci.high) if np.isfinite(ci.high) else float(x.max())
    return low, high


def summarize(values: Values, confidence: float = CONFIDENCE, seed: int = 0) -> Summary:
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
            f"IQR is {100 * s.iqr_s / s.median_s:.0f}% of the median: the machine is noisy"
            f" (IQR above {100 * noisy_iqr:.0f}% of the median); raise --min-time or pin threads"
        )
    for name, needed in MIN_SAMPLES_FOR.items():
        if s.n < needed:
            notes.append(
                f"{name} rests on {s.n} samples: {name} needs about {needed} samples;"
                " read it as the max"
            )
            break
    return notes


# --- comparison statistics: paired log-ratios (A/B blocks) and unpaired stored runs ---

_NULL_CACHE: dict[int, np.ndarray] = {}


def walsh_averages(values: Values) -> np.ndarray:
    """Sorted pairwise means (x_i + x_j) / 2 over i <= j: the basis of HL and its interval."""
    x = np.asarray(values, dtype=np.float64)
    i, j = np.triu_indices(x.size)
    return np.sort((x[i] + x[j]) / 2)


def hodges_lehmann(values: Values) -> float:
    """One-sample Hodges–Lehmann estimate of the centre: the median of the Walsh averages."""
    if len(values) == 0:
        raise ValueError("no values for a Hodges–Lehmann estimate")
    return float(np.median(walsh_averages(values)))


def signed_rank_null(n: int) -> np.ndarray:
    """Exact null pmf of the signed-rank statistic W+ for n untied values (index = W+)."""
    if n in _NULL_CACHE:
        return _NULL_CACHE[n]
    pmf = np.zeros(n * (n + 1) // 2 + 1)
    pmf[0] = 1.0
    for rank in range(1, n + 1):
        # under H0 each rank joins W+ with probability 1/2: one convolution step per rank
        shifted = np.zeros_like(pmf)
        shifted[rank:] = pmf[:-rank]
        pmf = (pmf + shifted) / 2
    if n <= 400:  # the looks of a sequential gate reuse a few small n; keep memory bounded
        _NULL_CACHE[n] = pmf
    return pmf


def _critical_count(n: int, tail: float) -> int:
    """Largest k with P(W+ <= k - 1) <= tail under H0 (0: no interval at this level)."""
    cdf = np.cumsum(signed_rank_null(n))
    # the tiny slack keeps exact boundaries (1/64 vs 0.015625) on the right side of rounding
    return int(np.searchsorted(cdf, tail * (1 + 1e-9), side="right"))


def signed_rank_ci(values: Values, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact distribution-free interval of the centre from Walsh order statistics.

    Unbounded (-inf, inf) when n is too small for the confidence (n < 6 at 95%).
    """
    walsh = walsh_averages(values)
    k = _critical_count(len(values), (1 - confidence) / 2)
    if k == 0:
        return float("-inf"), float("inf")
    return float(walsh[k - 1]), float(walsh[walsh.size - k])


def signed_rank_pvalue(values: Values, shift: float = 0.0, greater: bool = True) -> float:
    """Exact one-sided signed-rank p-value for centre > shift (or < shift when not greater).

    W+ equals the count of Walsh averages beyond the shift (Tukey), so the p-value agrees
    with `signed_rank_ci` by construction. Ties with the shift count half, rounded down
    (conservative).
    """
    walsh = walsh_averages(values)
    beyond = np.count_nonzero(walsh > shift if greater else walsh < shift)
    stat = beyond + 0.5 * np.count_nonzero(walsh == shift)
    return float(signed_rank_null(len(values))[int(np.floor(stat)) :].sum())


def _hl_along(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Hodges–Lehmann estimate along `axis` (vectorised for the bootstrap)."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    i, j = np.triu_indices(x.shape[-1])
    return np.median((x[..., i] + x[..., j]) / 2, axis=-1)


def hl_bootstrap(
    values: Values, confidence: float = CONFIDENCE, seed: int = 0, resamples: int = 2000
) -> tuple[float, float, np.ndarray]:
    """Percentile-bootstrap interval of the HL estimate, plus its replicates (for p-values)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2 or np.all(x == x[0]):
        centre = float(np.median(x)) if x.size else float("nan")
        return centre, centre, np.full(resamples, centre)
    res = sps.bootstrap(
        (x,),
        _hl_along,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    ci = res.confidence_interval
    return float(ci.low), float(ci.high), np.asarray(res.bootstrap_distribution)


def bootstrap_pvalue(replicates: np.ndarray, shift: float, greater: bool = True) -> float:
    """One-sided percentile-bootstrap p-value for centre > shift (or < shift)."""
    reps = np.asarray(replicates, dtype=np.float64)
    against = np.count_nonzero(reps <= shift if greater else reps >= shift)
    return float((1 + against) / (reps.size + 1))


def _log_median_ratio(base: np.ndarray, new: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.log(np.median(new, axis=axis)) - np.log(np.median(base, axis=axis))


def log_ratio_of_medians(
    base: Values,
    new: Values,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    resamples: int = 2000,
) -> tuple[float, float, float, np.ndarray]:
    """log(median(new) / median(base)) for two unpaired runs: (estimate, low, high, replicates).

    Each side's raw samples are resampled independently (percentile bootstrap); this treats
    samples within one run as exchangeable, which two stored runs cannot do better than.
    """
    b = np.asarray(base, dtype=np.float64)
    n = np.asarray(new, dtype=np.float64)
    if min(b.size, n.size) == 0 or np.any(b <= 0) or np.any(n <= 0):
        raise ValueError("both runs need positive samples for a ratio of medians")
    estimate = float(_log_median_ratio(b, n))
    if min(b.size, n.size) < 2:
        return estimate, float("-inf"), float("inf"), np.full(resamples, estimate)
    res = sps.bootstrap(
        (b, n),
        _log_median_ratio,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
        paired=False,
        batch=max(1, 2_000_000 // max(b.size, n.size)),  # bounds memory on long runs
    )
    ci = res.confidence_interval
    return estimate, float(ci.low), float(ci.high), np.asarray(res.bootstrap_distribution)
