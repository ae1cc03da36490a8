"""Stored runs compared: completeness rules, between-run drift from history, verdicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats as sps

from bench.core.errors import BenchError, ConfigError
from bench.core.records import CaseResult, RunRecord
from bench.gate.chat import expand_requests
from bench.gate.decide import (
    CaseVerdict,
    Estimate,
    GatePolicy,
    GateResult,
    Verdict,
    fingerprint_diff,
    judge,
    overall,
)
from bench.gate.interop import STORED_STATS

Z95 = 1.959963984540054
Problem = Literal["", "error", "note", "skip"]


@dataclass(frozen=True)
class Point:
    """One case in one run: the log of its median per-call time and that value's error."""

    log_median: float
    se: float
    approximate: bool = False  # from stored statistics, not raw samples


def log_median(per_call_s: Sequence[float]) -> Point:
    """log median and its standard error from the distribution-free order-statistic 95%
    interval (no resampling: a compare is deterministic and cheap on any suite size)."""
    x = np.sort(np.log(np.asarray(per_call_s, dtype=np.float64)))
    n = x.size
    if n < 2:
        return Point(float(np.median(x)), math.inf)
    half = Z95 * math.sqrt(n) / 2
    lo, hi = max(0, math.floor(n / 2 - half)), min(n - 1, math.ceil(n / 2 + half))
    return Point(float(np.median(x)), float(x[hi] - x[lo]) / (2 * Z95))


def point(case: CaseResult | None) -> Point | None:
    """The case's Point when it was measured with at least two raw samples (or, from a
    pytest-benchmark file saved without raw data, its stored statistics)."""
    if case is None or case.status != "ok":
        return None
    if not case.sample_ns and STORED_STATS in case.details:
        return stats_point(case.details[STORED_STATS])
    if len(case.sample_ns) < 2 or not case.loops:
        return None
    return log_median(case.per_call_s())


def stats_point(st: Mapping[str, float]) -> Point | None:
    """log median from stored statistics; its error by the normal approximation
    SE(median) = sqrt(pi/2) * sigma / sqrt(rounds), sigma = IQR / 1.349 (stddev if no IQR),
    divided by the median for the log scale. Weaker than raw samples: heavy tails and
    drift within the run are invisible to it."""
    rounds, median = st["rounds"], st["median"]
    if rounds < 2:
        return None
    sigma = st.get("iqr", 0.0) / 1.349 or st.get("stddev", 0.0)
    se = math.sqrt(math.pi / 2) * sigma / math.sqrt(rounds) / median
    return Point(math.log(median), se, approximate=True)


def check_timings(record: RunRecord, source: str) -> RunRecord:
    """The record (chat cases split per metric), or a BenchError naming the file and the
    field when its timings are unusable."""
    record = expand_requests(record)
    for i, case in enumerate(record.cases):
        bad = [v for v in case.sample_ns if not (isinstance(v, int | float) and 0 < v < math.inf)]
        if case.status == "ok" and bad:
            raise BenchError(
                f"{source}: cases[{i}] ({case.case_id}): sample_ns holds {bad[0]!r}; every "
                "timing must be a positive number of ns (re-run the case, or drop it)"
            )
    if not any(c.sample_ns or STORED_STATS in c.details for c in record.cases):
        statuses = ", ".join(sorted({c.status for c in record.cases})) or "no cases"
        raise BenchError(
            f"{source}: holds no timings ({len(record.cases)} case(s): {statuses}); "
            "nothing to compare (was the run cut short, or saved without raw data?)"
        )
    return record


def problem(bases: Sequence[CaseResult], new: CaseResult | None) -> tuple[Problem, str]:
    """Why a case cannot be compared: an error, a note, a silent skip, or '' (compare it)."""
    measured = any(point(b) for b in bases)
    if (
        all(b.status == "unsupported" for b in bases)
        and new is None
        or (new is not None and new.status == "unsupported" and not measured)
    ):
        return "skip", "unsupported"
    if new is None:
        kind: Problem = "error" if measured else "note"
        return kind, "missing from RESULTS (measured in BASE)" if measured else "not measured"
    if new.status == "failed":
        return "error", f"failed in RESULTS: {new.reason or 'no reason recorded'}"
    if new.status == "unsupported":
        return "error", f"unsupported in RESULTS but measured in BASE: {new.reason}"
    if point(new) is None:
        return "error", "RESULTS keeps fewer than 2 raw samples of this case"
    if not measured:
        states = "/".join(sorted({b.status for b in bases}))
        return "note", f"not measured in BASE ({states}): not compared"
    return "", ""


def case_drift(runs: Sequence[Point]) -> float | None:
    """One case's between-run variance beyond its within-run error (None: under two runs)."""
    if len(runs) < 2 or not all(math.isfinite(r.se) for r in runs):
        return None
    values = np.array([r.log_median for r in runs])
    within = float(np.mean([r.se**2 for r in runs]))
    return max(0.0, float(np.var(values, ddof=1)) - within)


def drift_variance(groups: Sequence[Sequence[Point]]) -> tuple[float, int]:
    """Between-run variance of log medians pooled over cases, and its degrees of freedom
    (0: no case was measured in two BASE runs). The median of the cases' values, scaled by
    the chi-square median, so one wild case (a noisy neighbour during one run) cannot
    inflate every other case's interval; that case keeps its own larger value."""
    found = [(v, len(g) - 1) for g in groups if (v := case_drift(g)) is not None]
    if not found:
        return math.nan, 0
    nu = int(np.median([k for _, k in found]))
    scale = float(sps.chi2.median(nu)) / nu  # median of a variance estimate with nu df
    return float(np.median([v for v, _ in found])) / scale, sum(k for _, k in found)


def normal_estimate(
    d: float, var: float, df: int, policy: GatePolicy, tail: float, n: int, method: str
) -> Estimate:
    """An Estimate of log(B/A) = d with variance `var` (Student t with df, normal when 0)."""
    sd = max(math.sqrt(var), 1e-12)
    floor, tol = math.log1p(policy.effect_floor), math.log1p(policy.tolerance)
    # p-values as lower-tail probabilities (an upper tail is the cdf at -z): one call
    z = np.array([floor - d, d - tol, d + floor, tol - d]) / sd
    if df:
        q, p = float(sps.t.ppf(1 - tail, df)), sps.t.cdf(z, df)
    else:
        q, p = float(sps.norm.ppf(1 - tail)), sps.norm.cdf(z)
    slower, within, faster, beyond = (float(v) for v in p)
    return Estimate(
        d, d - q * sd, d + q * sd, 1 - 2 * tail, n, method, slower, within, faster, beyond
    )


@dataclass(frozen=True)
class Drift:
    """Between-run variance of one case's log time (var, per run): measured from history,
    or assumed; shown as run-to-run drift, the SD of log(B/A) between two runs, sqrt(2 var)."""

    var: float
    df: int
    runs: int

    @property
    def measured(self) -> bool:
        return self.df > 0

    def describe(self) -> str:
        sd = f"{100 * math.sqrt(2 * self.var):.2g}%"
        if self.measured:
            return f"run-to-run drift {sd} measured over {self.runs} BASE runs (df {self.df})"
        return f"run-to-run drift {sd} assumed (one BASE run)"


def _case_estimate(
    bases: Sequence[Point], new: Point, drift: Drift, policy: GatePolicy, tail: float, n: int
) -> tuple[Estimate, float]:
    """The case's estimate, and the within-run part of its variance (for the geomean)."""
    k = len(bases)
    d = new.log_median - float(np.mean([b.log_median for b in bases]))
    within = new.se**2 + float(np.mean([b.se**2 for b in bases])) / k
    approx = new.approximate or any(b.approximate for b in bases)
    how = (
        "stored statistics (median, IQR, rounds; normal approximation)"
        if approx
        else "order-statistic error"
    )
    method = f"ratio of medians, {how} + {drift.describe()}"
    # a case that drifted more than the suite's typical case keeps its own drift
    own = case_drift(bases) if drift.measured else None
    var = within + max(drift.var, own or 0.0) * (1 + 1 / k)
    est = normal_estimate(d, var, drift.df, policy, tail, n, method)
    return est, within


def _suite_drift(
    table: Sequence[Sequence[Point]], drift: Drift, policy: GatePolicy, cases: int
) -> float:
    """Between-run variance of the suite's mean log time: the spread of per-run means over
    cases every BASE run measured, at least the independent-case value; one BASE run
    assumes the drift is common to every case (the cautious reading)."""
    if not drift.measured:
        return drift.var
    floor = drift.var / max(cases, 1)
    complete = [row for row in table if len(row) == drift.runs]
    if drift.runs < 2 or not complete:
        return floor
    per_run = np.array([[p.log_median for p in row] for row in complete]).mean(axis=0)
    within = float(np.mean([p.se**2 for row in complete for p in row])) / len(complete)
    return max(floor, float(np.var(per_run, ddof=1)) - within)


def _labels(bases: Sequence[RunRecord]) -> str:
    more = f" (+{len(bases) - 1} more)" if len(bases) > 1 else ""
    return f"{bases[0].run_id}{more}"


def _base_cases(bases: Sequence[RunRecord]) -> dict[str, list[CaseResult]]:
    """Every case id of the BASE runs (first seen order) with its results across them."""
    out: dict[str, list[CaseResult]] = {}
    for run in bases:
        for case in run.cases:
            out.setdefault(case.case_id, []).append(case)
    return out


def _drift(groups: Sequence[Sequence[Point]], policy: GatePolicy, runs: int) -> Drift:
    var, df = drift_variance(groups)
    # policy.drift is the SD of log(B/A) between two runs: each run contributes half its square
    return Drift(var, df, runs) if df else Drift(policy.drift**2 / 2, 0, runs)


def compare_runs(
    base: RunRecord | Sequence[RunRecord], new: RunRecord, policy: GatePolicy
) -> GateResult:
    """RESULTS against one or more BASE runs: per case the ratio of medians with an interval
    widened by the between-run drift (measured across BASE runs, else assumed), Holm over
    the cases and the suite geomean, and completeness rules (missing, failed, cut short)."""
    bases = [expand_requests(b) for b in ([base] if isinstance(base, RunRecord) else base)]
    new = expand_requests(new)
    theirs = {c.case_id: c for c in new.cases}
    mine = _base_cases(bases)
    if not set(mine) & set(theirs):
        raise ConfigError(
            f"no case of RESULTS ({len(new.cases)} case(s)) matches BASE ({len(mine)}); "
            "compare runs of the same suite (case ids like gemm[m=64,...]@numpy/latency)"
        )
    errors, notes, compared = _sort_cases(mine, theirs, policy)
    table = {cid: [p for p in map(point, mine[cid]) if p] for cid in compared}
    drift = _drift(list(table.values()), policy, len(bases))
    estimates, geo = _estimates(table, theirs, drift, policy)
    judged = judge({**estimates, **({geo[0]: geo[1]} if geo else {})}, policy, policy.tail(1))
    geo_verdict = judged.pop() if geo else None
    cases = [*judged, *errors, *_run_state(new, policy, notes)]
    final = [c.verdict for c in cases]
    if geo_verdict is not None and geo_verdict.verdict is Verdict.REGRESSION:
        final.append(Verdict.REGRESSION)
    notes += _drift_notes(drift, bases) + _unmatched_notes(mine, theirs)
    return GateResult(
        mode="compare", cases=tuple(cases), geomean=geo_verdict, verdict=overall(final),
        policy=policy, confidence=1 - 2 * policy.tail(1), base_label=_labels(bases),
        new_label=new.run_id, fingerprint=tuple(fingerprint_diff(_fp(bases[-1]), _fp(new))),
        notes=tuple(notes),
    )  # fmt: skip


def _sort_cases(
    mine: dict[str, list[CaseResult]], theirs: dict[str, CaseResult], policy: GatePolicy
) -> tuple[list[CaseVerdict], list[str], list[str]]:
    """Error rows, notes, and the ids that can be compared (completeness rules applied)."""
    errors, notes, compared, skipped = [], [], [], []
    for cid, cases in mine.items():
        kind, reason = problem(cases, theirs.get(cid))
        if kind == "error" and not policy.allow_missing:
            errors.append(CaseVerdict(cid, Verdict.ERROR, f"{reason} (--allow-missing to accept)"))
        elif kind in ("error", "note"):
            notes.append(f"{cid}: {reason}")
        elif kind == "skip":
            skipped.append(cid)
        else:
            compared.append(cid)
    if skipped:
        shown = ", ".join(skipped[:5])
        notes.append(f"{len(skipped)} case(s) unsupported in both runs, skipped: {shown}")
    return errors, notes, compared


def _estimates(
    table: dict[str, list[Point]], theirs: dict[str, CaseResult], drift: Drift, policy: GatePolicy
) -> tuple[dict[str, Estimate | str], tuple[str, Estimate] | None]:
    """Per-case estimates and the suite geomean's, the whole Holm family."""
    tail, out, within, ds = policy.tail(1), {}, [], []
    for cid, points in table.items():
        new = point(theirs[cid])
        assert new is not None  # problem() let only measured cases through
        n = len(theirs[cid].sample_ns)
        est, w = _case_estimate(points, new, drift, policy.for_case(cid), tail, n)
        out[cid] = est
        within.append(w)
        ds.append(est.log_ratio)
    if not ds:
        return dict(out), None
    m = len(ds)
    var = sum(within) / m**2 + _suite_drift(list(table.values()), drift, policy, m) * (
        1 + 1 / drift.runs
    )
    method = f"mean log-ratio over cases + {drift.describe()}"
    geo = normal_estimate(float(np.mean(ds)), var, drift.df, policy, tail, m, method)
    return dict(out), (f"geometric mean of {m} case(s)", geo)


def _run_state(new: RunRecord, policy: GatePolicy, notes: list[str]) -> list[CaseVerdict]:
    """An ERROR row when RESULTS did not finish (its missing cases were never measured)."""
    if new.state == "complete":
        return []
    reason = f"the RESULTS run did not finish (state '{new.state}')"
    if policy.allow_missing:
        notes.append(reason)
        return []
    row = CaseVerdict(f"run {new.run_id}", Verdict.ERROR, f"{reason}; re-run it or --allow-missing")
    return [row]


def _drift_notes(drift: Drift, bases: Sequence[RunRecord]) -> list[str]:
    if drift.measured:
        return [f"intervals include the {drift.describe()}"]
    return [
        f"one BASE run: the verdict is advisory; intervals include the {drift.describe()}"
        " (set [gate] drift, or pass several BASE runs or --history DIR to measure it)"
    ]


def _fp(record: RunRecord) -> dict[str, Any]:
    return {**dict(record.fingerprint), "backends": dict(record.backends)}


def _unmatched_notes(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    extra = sorted(set(theirs) - set(mine))
    return [f"{len(extra)} case(s) only in RESULTS: {', '.join(extra[:5])}"] if extra else []
