"""Warm-up, loop calibration and sampling of one prepared call: the harness's timing core."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.core.policy import Policy, StopReason
from bench.core.stats import median_ci_order, relative_ci_halfwidth
from bench.runner.boundary import adapter_call
from bench.runner.clock import Clock, perf_ns


@dataclass(frozen=True)
class Measurement:
    sample_ns: tuple[int, ...]
    loops: int
    warmup_calls: int
    warmup_ns: int
    stopped_by: StopReason


@dataclass(frozen=True)
class Fence:
    """A device sync: after every call (latency) or once at the end of a sample (throughput)."""

    sync: Callable[[], None]
    per_call: bool = True


def timed_sample(run: Callable[[], Any], fence: Fence | None, loops: int, clock: Clock) -> int:
    """Nanoseconds for `loops` calls, fenced as `fence` says (None: synchronous calls).

    The loops sit inside one adapter boundary: only run() and sync() can raise there, and
    what they raise is the backend's failure (the try costs nothing per call)."""
    it = itertools.repeat(None, loops)
    with adapter_call("a timed call"):
        if fence is None:
            t0 = clock()
            for _ in it:
                run()
            return clock() - t0
        sync = fence.sync
        t0 = clock()
        if fence.per_call:
            for _ in it:
                run()
                sync()
        else:
            for _ in it:
                run()
            sync()
        return clock() - t0


def warm_up(
    run: Callable[[], Any], fence: Fence | None, policy: Policy, clock: Clock
) -> tuple[int, int]:
    """Calls until both the minimum count and the time budget are spent: (calls, ns)."""
    calls, start = 0, clock()
    budget = int(policy.warmup_s * 1e9)
    while calls < policy.min_warmup_calls or clock() - start < budget:
        timed_sample(run, fence, 1, clock)
        calls += 1
    return calls, clock() - start


def calibrate(run: Callable[[], Any], fence: Fence | None, policy: Policy, clock: Clock) -> int:
    """Smallest power-of-two loop count whose sample lasts at least min_sample_s."""
    target = int(policy.min_sample_s * 1e9)
    loops = 1
    while loops < 2**30:
        if timed_sample(run, fence, loops, clock) >= target:
            return loops
        loops *= 2
    return loops


def _stop(policy: Policy, samples: list[int], loops: int, elapsed: int) -> StopReason | None:
    n = len(samples)
    if n >= policy.max_samples:
        return "max_samples"
    if elapsed >= policy.max_time_s * 1e9:
        return "max_time"
    if n < policy.min_samples:
        return None
    if policy.target_ci > 0:
        if n % 5 == 0:  # the interval is cheap, but not free: check every fifth sample
            low, high = median_ci_order(samples)
            median = sorted(samples)[n // 2]
            if relative_ci_halfwidth(low, high, median) <= policy.target_ci:
                return "target_ci"
        return None
    return "min_time" if elapsed >= policy.min_time_s * 1e9 else None


def measure(
    run: Callable[[], Any],
    fence: Fence | None,
    policy: Policy,
    clock: Clock = perf_ns,
) -> Measurement:
    """Warm up, calibrate loops, then collect samples until the policy says stop."""
    calls, warm_ns = warm_up(run, fence, policy, clock)
    loops = policy.loops or calibrate(run, fence, policy, clock)
    samples: list[int] = []
    start = clock()
    gc_was_enabled = gc.isenabled()
    try:
        while True:
            if policy.disable_gc:
                gc.disable()  # as timeit does: a collection inside one sample is not the call's cost
            samples.append(timed_sample(run, fence, loops, clock))
            if gc_was_enabled:
                gc.enable()
            reason = _stop(policy, samples, loops, clock() - start)
            if reason is not None:
                return Measurement(tuple(samples), loops, calls, warm_ns, reason)
    finally:
        if gc_was_enabled:
            gc.enable()
