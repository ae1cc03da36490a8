"""Verdicts from a ratio, read against a claim's bound as stated (at least, about, a range)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LOWER_IS_BETTER = frozenset({"ttft"})
Verdict = Literal[
    "supported", "partly supported", "contradicted", "not testable by measurement",
    "not yet measured",
]  # fmt: skip
NOT_TESTABLE: Verdict = "not testable by measurement"
VERDICTS: tuple[Verdict, ...] = (
    "supported",
    "partly supported",
    "contradicted",
    NOT_TESTABLE,
    "not yet measured",
)


@dataclass(frozen=True)
class VerdictPolicy:
    """Ratio thresholds: >= supported_at supported, >= partly_at partly, below contradicted."""

    supported_at: float = 0.9
    partly_at: float = 0.5


def ratio(claimed: float, measured: float, metric: str) -> float:
    """How far the measurement reaches the claim: 1.0 means exactly as claimed."""
    if metric in LOWER_IS_BETTER:
        return claimed / measured if measured > 0 else 0.0
    return measured / claimed if claimed > 0 else float("inf")


def verdict_for(value: float, policy: VerdictPolicy) -> Verdict:
    """supported / partly supported / contradicted from a ratio; NaN is a caller's bug."""
    if value != value:
        raise ValueError("a NaN ratio has no verdict")
    if value >= policy.supported_at:
        return "supported"
    if value >= policy.partly_at:
        return "partly supported"
    return "contradicted"


def threshold(bound: str, tolerance: float | None, policy: VerdictPolicy) -> float:
    """The ratio a stated bound needs: 1 for 'at least' / 'at most' / a range's floor, else
    1 - the entry's tolerance (the policy's supported_at when the entry states none)."""
    if bound in ("at_least", "at_most", "range"):
        return 1.0
    return 1.0 - (tolerance if tolerance is not None else 1.0 - policy.supported_at)


def bounded_verdict(
    value: float, bound: str, tolerance: float | None, policy: VerdictPolicy
) -> Verdict:
    """supported only when the bound as stated holds; partly above partly_at; else contradicted."""
    if value != value:
        raise ValueError("a NaN ratio has no verdict")
    if value >= threshold(bound, tolerance, policy):
        return "supported"
    return "partly supported" if value >= policy.partly_at else "contradicted"


def bound_words(bound: str, tolerance: float | None, policy: VerdictPolicy) -> str:
    """How the verdict read the bound, for the row's note."""
    need = threshold(bound, tolerance, policy)
    if bound in ("at_least", "at_most", "range"):
        return f"bound '{bound.replace('_', ' ')}': supported only at ratio >= 1"
    source = "stated" if tolerance is not None else "the registry's default"
    return f"bound '{bound}': supported at ratio >= {need:g} ({source} tolerance)"
