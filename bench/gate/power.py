"""The gate's power curve: detection rate vs true slowdown at a given block noise, by simulation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.gate.decide import GatePolicy, Verdict, judge_paired

SLOWDOWNS = (0.0, 0.02, 0.05, 0.075, 0.10, 0.15, 0.20)


@dataclass(frozen=True)
class PowerPoint:
    """At one true slowdown: the share of simulated decisions per verdict."""

    slowdown: float
    regression: float
    inconclusive: float
    passed: float
    mean_blocks: float


def block_noise(log_ratios: Sequence[float]) -> float:
    """Robust SD of per-block log-ratios (IQR / 1.349), what the simulation draws from."""
    x = np.asarray(log_ratios, dtype=np.float64)
    if x.size < 4:
        return float(np.std(x, ddof=1)) if x.size > 1 else math.nan
    q1, q3 = np.quantile(x, [0.25, 0.75])
    return float((q3 - q1) / 1.349)


def _decide(
    rng: np.random.Generator, shift: float, noise: float, p: GatePolicy
) -> tuple[Verdict, int]:
    """One sequential decision as `ab` makes it: min_blocks, then block_step more per look."""
    blocks = list(shift + rng.normal(0, noise, p.min_blocks))
    while True:
        (case,), _ = judge_paired({"case": blocks}, p, p.looks)
        if case.verdict is not Verdict.INCONCLUSIVE or len(blocks) >= p.max_blocks:
            return case.verdict, len(blocks)
        more = min(p.block_step, p.max_blocks - len(blocks))
        blocks += list(shift + rng.normal(0, noise, more))


def power_curve(
    noise: float,
    policy: GatePolicy,
    slowdowns: Sequence[float] = SLOWDOWNS,
    trials: int = 200,
    seed: int = 0,
) -> list[PowerPoint]:
    """Per true slowdown, the verdict shares of `trials` simulated one-case decisions with
    normal block noise `noise` (seeded; no clock is read)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in slowdowns:
        runs = [_decide(rng, math.log1p(s), noise, policy) for _ in range(trials)]
        share = {v: sum(r[0] is v for r in runs) / trials for v in Verdict}
        out.append(
            PowerPoint(
                s,
                share[Verdict.REGRESSION],
                share[Verdict.INCONCLUSIVE],
                share[Verdict.PASS] + share[Verdict.IMPROVED],
                sum(r[1] for r in runs) / trials,
            )  # fmt: skip
        )
    return out
