"""How long and how often a case is measured: the timing policy, plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StopReason = Literal["min_time", "target_ci", "max_time", "max_samples"]


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
