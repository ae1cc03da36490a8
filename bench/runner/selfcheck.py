"""The harness measures itself: clock cost, per-call overhead against timeit, busy-wait accuracy."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.core.policy import Policy
from bench.runner.clock import clock_cost_ns, clock_resolution_ns, perf_ns
from bench.runner.measure import measure

BUSY_WAITS_S = (10e-6, 1e-3, 100e-3)


@dataclass(frozen=True)
class WaitCheck:
    target_s: float
    median_s: float

    @property
    def error(self) -> float:
        return (self.median_s - self.target_s) / self.target_s


@dataclass(frozen=True)
class SelfCheck:
    clock_cost_ns: float
    clock_resolution_ns: int
    harness_call_ns: float
    timeit_call_ns: float
    waits: tuple[WaitCheck, ...]

    @property
    def overhead_ratio(self) -> float:
        return self.harness_call_ns / self.timeit_call_ns


def _null() -> None:
    return None


def busy_wait(seconds: float) -> Callable[[], None]:
    """A call that spins on the clock for `seconds`: its true duration is known."""
    span = int(seconds * 1e9)

    def wait() -> None:
        end = perf_ns() + span
        while perf_ns() < end:
            pass

    return wait


def null_overhead(policy: Policy, rounds: int = 5) -> tuple[float, float]:
    """Per-call ns of the null callable: harness median vs timeit median, interleaved rounds."""
    ours, theirs = [], []
    for _ in range(rounds):
        m = measure(_null, None, policy)
        ours.append(statistics.median(ns / m.loops for ns in m.sample_ns))
        runs = timeit.Timer(_null).repeat(repeat=len(m.sample_ns), number=m.loops)
        theirs.append(statistics.median(runs) / m.loops * 1e9)
    return statistics.median(ours), statistics.median(theirs)


def wait_accuracy(seconds: float) -> WaitCheck:
    samples = 5 if seconds >= 0.05 else 30
    policy = Policy(warmup_s=0.0, min_samples=samples, min_time_s=0.0, min_sample_s=seconds / 2)
    m = measure(busy_wait(seconds), None, policy)
    return WaitCheck(seconds, float(np.median(np.asarray(m.sample_ns) / m.loops / 1e9)))


def run(policy: Policy | None = None) -> SelfCheck:
    policy = policy or Policy(warmup_s=0.05, min_time_s=0.3, min_samples=20)
    ours, theirs = null_overhead(policy)
    return SelfCheck(
        clock_cost_ns=clock_cost_ns(),
        clock_resolution_ns=clock_resolution_ns(),
        harness_call_ns=ours,
        timeit_call_ns=theirs,
        waits=tuple(wait_accuracy(s) for s in BUSY_WAITS_S),
    )


@dataclass(frozen=True)
class GemmCheck:
    size: int
    harness_gflops: float
    hand_gflops: float


def gemm_agreement(size: int = 2048, calls: int = 10) -> GemmCheck:
    """accelbench's GFLOP/s for a numpy fp32 GEMM next to a plain hand-timed loop."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2 * size**3
    m = measure(lambda: a @ b, None, Policy(warmup_s=0.2, min_samples=calls, min_time_s=1.0))
    harness = flops / (statistics.median(m.sample_ns) / m.loops / 1e9) / 1e9
    t0 = perf_ns()
    for _ in range(calls):
        a @ b
    hand = flops * calls / ((perf_ns() - t0) / 1e9) / 1e9
    return GemmCheck(size, harness, hand)
