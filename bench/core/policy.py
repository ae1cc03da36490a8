"""How long and how often a case is measured: the timing policy, plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from bench.core.errors import ConfigError

StopReason = Literal["min_time", "target_ci", "max_time", "max_samples"]
Scenario = Literal["latency", "throughput"]
SCENARIOS: tuple[Scenario, ...] = get_args(Scenario)


@dataclass(frozen=True)
class Policy:
    """How long and how often to measure; `target_ci` 0 means stop at min_time."""

    warmup_s: float = 0.2
    min_warmup_calls: int = 1
    min_sample_s: float = 2e-4
    min_samples: int = 10
    min_time_s: float = 1.0
    max_samples: int = 100_000
    max_time_s: float = 20.0
    target_ci: float = 0.0
    disable_gc: bool = True
    loops: int = 0  # fixed calls per sample (0: calibrate); A/B gates need equal loops


QUICK = Policy(warmup_s=0.05, min_samples=5, min_time_s=0.15, max_time_s=3.0)


def check_policy(policy: Policy, where: str) -> Policy:
    """Reject values that would measure nothing or never stop, naming the setting."""
    rules = (
        (policy.min_time_s > 0, "min_time_s", "a positive number of seconds"),
        (policy.max_time_s >= policy.min_time_s, "max_time_s", "at least min_time_s"),
        (policy.min_samples >= 1, "min_samples", "at least 1"),
        (policy.max_samples >= policy.min_samples, "max_samples", "at least min_samples"),
        (0 <= policy.target_ci < 1, "target_ci", "a fraction in [0, 1), e.g. 0.01"),
        (policy.warmup_s >= 0, "warmup_s", "zero or more seconds"),
        (policy.min_sample_s > 0, "min_sample_s", "a positive number of seconds"),
        (policy.loops >= 0, "loops", "0 (calibrate) or a positive count"),
    )
    for ok, name, want in rules:
        if not ok:
            raise ConfigError(f"{where}: {name} = {getattr(policy, name)!r} must be {want}")
    return policy
