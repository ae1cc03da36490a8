"""Comparison policy -> verdicts with reasons: estimates, Holm, suite geomean, fingerprint diffs."""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from bench.core import stats
from bench.core.errors import ConfigError
from bench.core.params import check_keys, replace_typed

Method = Literal["exact", "bootstrap"]
METHODS: tuple[Method, ...] = ("exact", "bootstrap")
OnInconclusive = Literal["pass", "warn", "fail"]
ON_INCONCLUSIVE: tuple[OnInconclusive, ...] = ("pass", "warn", "fail")


class Verdict(StrEnum):
    PASS = "PASS"
    IMPROVED = "IMPROVED"
    REGRESSION = "REGRESSION"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


# 0 pass, 1 regression, 2 usage/configuration error (or a case that could not be measured),
# 3 inconclusive; an error is never reported as a regression.
EXIT_CODES: Mapping[Verdict, int] = {
    Verdict.PASS: 0,
    Verdict.IMPROVED: 0,
    Verdict.REGRESSION: 1,
    Verdict.ERROR: 2,
    Verdict.INCONCLUSIVE: 3,
}


@dataclass(frozen=True)
class GatePolicy:
    """When B counts as slower than A, and how much evidence each verdict needs.

    tolerance: a slowdown up to this fraction never fails (REGRESSION needs the interval's
    lower bound above it); effect_floor: the smallest change reported as real (IMPROVED, or
    "a real slowdown within tolerance"); alpha: two-sided error of the interval, shared out
    over the planned looks of a sequential A/B (min_blocks, then every block_step, up to
    max_blocks). drift: the run-to-run drift (SD of log(B/A) between two runs of identical
    code) `compare` assumes when it has a single BASE run; on_inconclusive: what INCONCLUSIVE does to the exit code;
    allow_missing: cases missing, failed or cut short in RESULTS are notes, not errors;
    case_tolerances: (glob pattern, tolerance) pairs, the first match wins.
    """

    tolerance: float = 0.05
    effect_floor: float = 0.01
    alpha: float = 0.05
    min_blocks: int = 10
    max_blocks: int = 20
    block_step: int = 10
    method: Method = "exact"
    resamples: int = 2000
    seed: int = 0
    drift: float = 0.02
    on_inconclusive: OnInconclusive = "fail"
    allow_missing: bool = False
    case_tolerances: tuple[tuple[str, float], ...] = ()

    def for_case(self, case_id: str) -> GatePolicy:
        """This policy with the tolerance of the first [gate.cases] pattern the case matches."""
        for pattern, tolerance in self.case_tolerances:
            if fnmatch.fnmatchcase(case_id, pattern):
                floor = min(self.effect_floor, tolerance)
                return dataclasses.replace(self, tolerance=tolerance, effect_floor=floor)
        return self

    @property
    def looks(self) -> int:
        return 1 + math.ceil((self.max_blocks - self.min_blocks) / self.block_step)

    def tail(self, looks: int = 1) -> float:
        """One-sided error per decision; Bonferroni over looks keeps optional stopping honest."""
        return self.alpha / 2 / looks


_POLICY_RULES: Mapping[str, tuple[float, float, str]] = {
    "tolerance": (0.0, 1.0, "a fraction in (0, 1), e.g. 0.05 for 5%"),
    "effect_floor": (0.0, 1.0, "a fraction in [0, 1), at most the tolerance"),
    "alpha": (0.0, 0.5, "in (0, 0.5), e.g. 0.05"),
}


def check_policy(p: GatePolicy, where: str = "gate policy") -> GatePolicy:
    """The policy itself, or a ConfigError naming the offending value and the fix."""
    for name, (low, high, hint) in _POLICY_RULES.items():
        value = getattr(p, name)
        bad = not low <= value < high or (name != "effect_floor" and value == 0)
        if bad or not math.isfinite(value):
            raise ConfigError(f"{where}: {name} = {value!r} must be {hint}")
    if p.effect_floor > p.tolerance:
        raise ConfigError(
            f"{where}: effect_floor {p.effect_floor} exceeds tolerance {p.tolerance}; "
            "the floor is the smallest slowdown ever failed, so keep it at or below the tolerance"
        )
    if p.min_blocks < 2 or p.max_blocks < p.min_blocks or p.block_step < 1:
        raise ConfigError(
            f"{where}: blocks min {p.min_blocks}, max {p.max_blocks}, step {p.block_step}: "
            "need 2 <= min_blocks <= max_blocks and block_step >= 1"
        )
    check_keys([p.method], METHODS, where, "method")
    check_keys([p.on_inconclusive], ON_INCONCLUSIVE, where, "on_inconclusive")
    if not 0 <= p.drift < 1 or not math.isfinite(p.drift):
        raise ConfigError(f"{where}: drift = {p.drift!r} must be a fraction in [0, 1), e.g. 0.02")
    for pattern, tolerance in p.case_tolerances:
        if not 0 < tolerance < 1:
            raise ConfigError(
                f"{where}: cases.{pattern!r} = {tolerance!r} must be a tolerance in (0, 1)"
            )
    if p.resamples < 100:
        raise ConfigError(f"{where}: resamples = {p.resamples} is too few (use 1000 or more)")
    return p


def make_policy(
    values: Mapping[str, Any], where: str = "gate policy", base: GatePolicy | None = None
) -> GatePolicy:
    """A checked policy from a config table or flags (None values keep the base's)."""
    base = base or GatePolicy()
    names = {f.name for f in dataclasses.fields(GatePolicy)} - {"case_tolerances"}
    check_keys(values, names | {"cases"}, where)
    given = {k: v for k, v in values.items() if v is not None and k != "cases"}
    policy = replace_typed(base, given, where)
    if values.get("cases") is not None:
        policy = dataclasses.replace(policy, case_tolerances=_case_tolerances(values["cases"], where))
    return check_policy(policy, where)


def _case_tolerances(table: Any, where: str) -> tuple[tuple[str, float], ...]:
    """[gate.cases] as (pattern, tolerance) pairs in file order."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: cases must be a table of pattern = tolerance")
    try:
        return tuple((str(k), float(v)) for k, v in table.items())
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cases: {exc} (give pattern = tolerance, e.g. 0.1)") from None


@dataclass(frozen=True)
class Estimate:
    """log(B/A) with its interval and the one-sided p-values the verdict needs."""

    log_ratio: float
    low: float
    high: float
    confidence: float
    n: int
    method: str
    p_slower: float  # H1: slower than the effect floor
    p_within: float  # H1: slower by less than the tolerance
    p_faster: float  # H1: faster than the effect floor
    p_beyond: float  # H1: slower than the tolerance (the regression test)

    @property
    def ratio(self) -> float:
        return math.exp(self.log_ratio)

    @property
    def ratio_low(self) -> float:
        return math.exp(self.low)

    @property
    def ratio_high(self) -> float:
        return math.exp(self.high)


def needed_resamples(policy: GatePolicy, tail: float, cases: int) -> int:
    """Enough bootstrap resamples that Holm's smallest threshold, tail / cases, sits 10
    resolution steps above the smallest attainable p-value 1 / (resamples + 1): with the
    fixed 2,000 a suite of 26 or more cases could never fail."""
    return max(policy.resamples, math.ceil(10 * cases / tail))


def paired_estimate(
    log_ratios: Sequence[float], policy: GatePolicy, tail: float, cases: int = 1
) -> Estimate:
    """HL of per-block log-ratios with an exact signed-rank (or bootstrap) interval;
    `cases` is the size of the Holm family the p-values will join."""
    d = np.asarray(log_ratios, dtype=np.float64)
    floor, tol = math.log1p(policy.effect_floor), math.log1p(policy.tolerance)
    confidence = 1 - 2 * tail
    shifts = ((floor, True), (tol, False), (-floor, False), (tol, True))
    if policy.method == "exact":
        low, high = stats.signed_rank_ci(d, confidence)
        p = [stats.signed_rank_pvalue(d, s, greater=g) for s, g in shifts]
        method = "Hodges-Lehmann, exact signed-rank interval"
    else:
        resamples = needed_resamples(policy, tail, cases)
        low, high, reps = stats.hl_bootstrap(d, confidence, policy.seed, resamples)
        p = [stats.bootstrap_pvalue(reps, s, greater=g) for s, g in shifts]
        method = f"Hodges-Lehmann, bootstrap interval ({resamples} resamples)"
    return Estimate(stats.hodges_lehmann(d), low, high, confidence, d.size, method, *p)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class CaseVerdict:
    """One case's (or the suite geomean's) verdict, with the numbers and the reason."""

    case_id: str
    verdict: Verdict
    reason: str
    estimate: Estimate | None = None
    p_slower_holm: float | None = None  # p of "slower than the tolerance", Holm-adjusted
    detail: Mapping[str, Any] = field(default_factory=dict)


def _pct(log_ratio: float) -> str:
    if not math.isfinite(log_ratio):
        return "unbounded"
    return f"{100 * math.expm1(log_ratio):+.2f}%"


def classify(
    est: Estimate, policy: GatePolicy, tail: float, p_beyond: float
) -> tuple[Verdict, str]:
    """REGRESSION when B is shown slower than the tolerance (p_beyond, Holm-adjusted across
    cases: the interval's lower bound above it); PASS when the interval's top is under the
    tolerance; otherwise INCONCLUSIVE. IMPROVED is a PASS shown faster than the floor."""
    tol, floor = 100 * policy.tolerance, 100 * policy.effect_floor
    ci = f"{100 * est.confidence:.4g}% CI {_pct(est.low)} .. {_pct(est.high)}"
    if p_beyond <= tail:
        return (
            Verdict.REGRESSION,
            f"slower than the {tol:g}% tolerance (p={p_beyond:.2g} adjusted; {ci})",
        )
    if est.p_within <= tail:
        if est.p_faster <= tail:
            return Verdict.IMPROVED, f"faster by more than the {floor:g}% floor ({ci})"
        note = f"; a real slowdown above the {floor:g}% floor" if est.p_slower <= tail else ""
        return Verdict.PASS, f"within the {tol:g}% tolerance ({ci}){note}"
    return (
        Verdict.INCONCLUSIVE,
        f"{ci} neither stays under nor clears the {tol:g}% tolerance (more data would decide)",
    )


def judge(
    estimates: Mapping[str, Estimate | str], policy: GatePolicy, tail: float
) -> list[CaseVerdict]:
    """Verdict per case under its own tolerance; a string is an error reason (ERROR, never
    REGRESSION)."""
    measured = {k: e for k, e in estimates.items() if isinstance(e, Estimate)}
    adjusted = dict(zip(measured, holm([e.p_beyond for e in measured.values()]), strict=True))
    out = []
    for case_id, est in estimates.items():
        if isinstance(est, str):
            out.append(CaseVerdict(case_id, Verdict.ERROR, est))
            continue
        p = adjusted[case_id]
        verdict, reason = classify(est, policy.for_case(case_id), tail, p)
        out.append(CaseVerdict(case_id, verdict, reason, est, p))
    return out


def overall(verdicts: Sequence[Verdict]) -> Verdict:
    """Suite verdict: any REGRESSION, else any ERROR, else any INCONCLUSIVE, else PASS."""
    for worst in (Verdict.REGRESSION, Verdict.ERROR, Verdict.INCONCLUSIVE):
        if worst in verdicts:
            return worst
    return Verdict.PASS


@dataclass(frozen=True)
class FingerprintDiff:
    """One fingerprint entry that differs; `loud` when it can move timings by itself."""

    key: str
    base: Any
    new: Any
    loud: bool


# Hardware, drivers and libraries change timings; host names and commits are expected to.
LOUD_PREFIXES = (
    "cpu.model",
    "cpu.arch",
    "cpu.logical_cores",
    "cpu.physical_cores",
    "cpu.flags_simd",
    "gpu",
    "driver",
    "cuda",
    "versions.",
    "blas",
    "python",
    "onnxruntime_providers",
    "backends.",
)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings (and lists of mappings) as dotted keys; scalar lists stay whole."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}"))
        return out
    return {prefix: list(value) if isinstance(value, tuple) else value}


def fingerprint_diff(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[FingerprintDiff]:
    """Every differing entry, loud ones (CPU, GPU, driver, library versions) first."""
    a, b = flatten(base), flatten(new)
    diffs = [
        FingerprintDiff(k, a.get(k), b.get(k), k.startswith(LOUD_PREFIXES))
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]
    return sorted(diffs, key=lambda d: not d.loud)


@dataclass(frozen=True)
class GateResult:
    """Everything a report needs: per-case verdicts, the suite geomean, fingerprints."""

    mode: Literal["compare", "ab"]
    cases: tuple[CaseVerdict, ...]
    geomean: CaseVerdict | None
    verdict: Verdict
    policy: GatePolicy
    confidence: float
    base_label: str = "A"
    new_label: str = "B"
    blocks: int | None = None
    fingerprint: tuple[FingerprintDiff, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """The verdict's code; INCONCLUSIVE exits 0 under on_inconclusive pass or warn."""
        if self.verdict is Verdict.INCONCLUSIVE and self.policy.on_inconclusive != "fail":
            return 0
        return EXIT_CODES[self.verdict]


def geomean_verdict(est: Estimate | None, policy: GatePolicy, tail: float, cases: int) -> Any:
    """The suite's geometric-mean ratio judged by the same rule (no Holm: one test)."""
    if est is None:
        return None
    verdict, reason = classify(est, policy, tail, est.p_beyond)
    return CaseVerdict(f"geometric mean of {cases} case(s)", verdict, reason, est, est.p_beyond)


def judge_paired(
    series: Mapping[str, Sequence[float] | str], policy: GatePolicy, looks: int = 1
) -> tuple[list[CaseVerdict], CaseVerdict | None]:
    """Per-case and geomean verdicts from per-block log-ratios (the block is the unit)."""
    tail = policy.tail(looks)
    m = sum(not isinstance(v, str) for v in series.values())
    estimates = {
        k: v if isinstance(v, str) else paired_estimate(v, policy.for_case(k), tail, m)
        for k, v in series.items()
    }
    good = [np.asarray(v, dtype=np.float64) for v in series.values() if not isinstance(v, str)]
    geo = None
    if good:
        blocks = min(len(v) for v in good)
        # per block, the mean log-ratio over cases: the suite's log geomean for that block
        per_block = np.mean([v[:blocks] for v in good], axis=0)
        geo = paired_estimate(per_block, policy, tail)
    return judge(estimates, policy, tail), geomean_verdict(geo, policy, tail, len(good))
