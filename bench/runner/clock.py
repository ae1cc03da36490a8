"""The clocks: perf_counter_ns for durations, wall time only to stamp records."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], int]

perf_ns: Clock = time.perf_counter_ns


def wall_iso() -> str:
    """Wall-clock time for stamping records (never for durations)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(stamp: str, prefix: str = "") -> str:
    """`[prefix-]YYYYMMDDTHHMMSS-xxxxxx` from a wall_iso() stamp: sortable, and unique."""
    return f"{prefix}{stamp.replace(':', '').replace('-', '')[:15]}-{uuid.uuid4().hex[:6]}"


def clock_cost_ns(clock: Clock = perf_ns, reads: int = 10_000) -> float:
    """Median cost of one clock read, from back-to-back reads in batches of 100."""
    costs = []
    for _ in range(reads // 100):
        t0 = clock()
        for _ in range(100):
            clock()
        costs.append((clock() - t0) / 101)
    costs.sort()
    return costs[len(costs) // 2]


def clock_resolution_ns(clock: Clock = perf_ns, tries: int = 1000) -> int:
    """The smallest non-zero step seen between consecutive reads."""
    best = None
    for _ in range(tries):
        t0 = clock()
        t1 = clock()
        while t1 == t0:
            t1 = clock()
        step = t1 - t0
        best = step if best is None else min(best, step)
    return int(best or 0)
