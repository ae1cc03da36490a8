"""The timing core with a fake clock: exact warm-up, loops, samples and stopping reasons."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bench.core.errors import BackendError
from bench.core.policy import Policy
from bench.runner.measure import Fence, calibrate, measure, timed_sample, warm_up

CALL_NS = 1000


class FakeClock:
    """Time moves only when the fake workload runs (and by `read_ns` per clock read)."""

    def __init__(self, read_ns: int = 0) -> None:
        self.now = 0
        self.read_ns = read_ns
        self.reads = 0

    def __call__(self) -> int:
        value = self.now
        self.now += self.read_ns
        self.reads += 1
        return value


class FakeWork:
    """One call costs CALL_NS on the fake clock; syncs are counted, and cost nothing."""

    def __init__(self, clock: FakeClock, call_ns: int = CALL_NS) -> None:
        self.clock, self.call_ns = clock, call_ns
        self.calls = 0
        self.syncs = 0
        self.events: list[str] = []
        self.gc_seen: list[bool] = []

    def run(self) -> None:
        self.clock.now += self.call_ns
        self.calls += 1
        self.events.append("run")
        self.gc_seen.append(gc.isenabled())

    def sync(self) -> None:
        self.syncs += 1
        self.events.append("sync")


@pytest.fixture(autouse=True)
def gc_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


# Stop on min_samples alone unless a test says otherwise: no warm-up budget, no min time.
BASE = Policy(warmup_s=0.0, min_warmup_calls=1, min_samples=10, min_time_s=0.0)


def test_timed_sample_counts_only_the_calls() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    assert timed_sample(work.run, None, 8, clock) == 8 * CALL_NS
    assert work.calls == 8
    assert clock.reads == 2


def test_timed_sample_includes_exactly_one_clock_read() -> None:
    clock = FakeClock(read_ns=70)
    work = FakeWork(clock)
    assert timed_sample(work.run, None, 4, clock) == 4 * CALL_NS + 70


def test_fence_per_call_syncs_after_every_call() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    timed_sample(work.run, Fence(work.sync, per_call=True), 3, clock)
    assert work.events == ["run", "sync", "run", "sync", "run", "sync"]


def test_fence_per_sample_syncs_once_after_the_calls() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    timed_sample(work.run, Fence(work.sync, per_call=False), 3, clock)
    assert work.events == ["run", "run", "run", "sync"]


def test_calibrate_picks_the_smallest_power_of_two_over_min_sample() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    # 2e-4 s = 200_000 ns: 128 calls take 128_000 ns (too short), 256 take 256_000.
    assert calibrate(work.run, None, Policy(min_sample_s=2e-4), clock) == 256
    assert work.calls == 1 + 2 + 4 + 8 + 16 + 32 + 64 + 128 + 256
    assert calibrate(FakeWork(clock).run, None, Policy(min_sample_s=1e-6), clock) == 1
    assert calibrate(FakeWork(clock).run, None, Policy(min_sample_s=1.024e-3), clock) == 1024


def test_calibrate_with_a_slow_call_needs_one_loop() -> None:
    clock = FakeClock()
    slow = FakeWork(clock, call_ns=5_000_000)
    assert calibrate(slow.run, None, Policy(min_sample_s=2e-4), clock) == 1


def test_warm_up_honours_the_minimum_call_count() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    calls, warm_ns = warm_up(work.run, None, Policy(warmup_s=0.0, min_warmup_calls=3), clock)
    assert (calls, warm_ns) == (3, 3 * CALL_NS)
    assert work.calls == 3


def test_warm_up_spends_its_time_budget() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    # 1e-5 s = 10_000 ns of 1_000 ns calls: exactly 10 calls.
    calls, warm_ns = warm_up(work.run, None, Policy(warmup_s=1e-5, min_warmup_calls=1), clock)
    assert (calls, warm_ns) == (10, 10_000)


def test_measure_exact_loops_samples_and_warm_up() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    policy = Policy(
        warmup_s=0.0, min_warmup_calls=4, min_sample_s=2e-4, min_samples=10, min_time_s=0.0
    )
    m = measure(work.run, None, policy, clock)
    assert m.loops == 256
    assert m.warmup_calls == 4
    assert m.warmup_ns == 4 * CALL_NS
    assert m.sample_ns == (256 * CALL_NS,) * 10
    assert [ns / m.loops for ns in m.sample_ns] == [float(CALL_NS)] * 10  # exact per-call time
    assert m.stopped_by == "min_time"
    assert work.calls == 4 + 511 + 10 * 256  # warm-up + calibration + samples


def test_measure_per_call_time_carries_one_clock_read_per_sample() -> None:
    clock = FakeClock(read_ns=100)
    work = FakeWork(clock)
    m = measure(work.run, None, BASE, clock)
    assert m.loops == 256
    assert set(m.sample_ns) == {256 * CALL_NS + 100}
    assert m.sample_ns[0] / m.loops == CALL_NS + 100 / 256


def test_measure_fixed_loops_skip_calibration_when_the_policy_has_them() -> None:
    if not hasattr(Policy(), "loops"):
        pytest.skip("this Policy has no fixed loop count")
    clock = FakeClock()
    work = FakeWork(clock)
    m = measure(work.run, None, Policy(warmup_s=0.0, min_samples=3, min_time_s=0.0, loops=5), clock)
    assert m.loops == 5
    assert m.sample_ns == (5 * CALL_NS,) * 3
    assert work.calls == 1 + 3 * 5


def test_stops_at_min_time_once_min_samples_are_in() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    # Samples of 256_000 ns; 10 ms needs ceil(10_000_000 / 256_000) = 40 of them.
    policy = Policy(warmup_s=0.0, min_samples=10, min_time_s=0.01)
    m = measure(work.run, None, policy, clock)
    assert (len(m.sample_ns), m.stopped_by) == (40, "min_time")


def test_min_samples_outlasts_a_short_min_time() -> None:
    clock = FakeClock()
    policy = Policy(warmup_s=0.0, min_samples=25, min_time_s=1e-3)  # time alone: 4 samples
    m = measure(FakeWork(clock).run, None, policy, clock)
    assert (len(m.sample_ns), m.stopped_by) == (25, "min_time")


def test_stops_at_max_samples() -> None:
    clock = FakeClock()
    policy = Policy(warmup_s=0.0, min_samples=10, min_time_s=10.0, max_samples=7)
    m = measure(FakeWork(clock).run, None, policy, clock)
    assert (len(m.sample_ns), m.stopped_by) == (7, "max_samples")


def test_stops_at_max_time() -> None:
    clock = FakeClock()
    # 1 ms of 256_000 ns samples: the 4th sample reaches 1_024_000 ns.
    policy = Policy(warmup_s=0.0, min_samples=10, min_time_s=10.0, max_time_s=1e-3)
    m = measure(FakeWork(clock).run, None, policy, clock)
    assert (len(m.sample_ns), m.stopped_by) == (4, "max_time")


def test_stops_at_target_ci_with_constant_samples() -> None:
    clock = FakeClock()
    # Constant samples: the interval is a point, so the first check (at a multiple of 5) stops.
    policy = Policy(warmup_s=0.0, min_samples=10, min_time_s=10.0, target_ci=0.01)
    m = measure(FakeWork(clock).run, None, policy, clock)
    assert (len(m.sample_ns), m.stopped_by) == (10, "target_ci")
    policy = Policy(warmup_s=0.0, min_samples=12, min_time_s=10.0, target_ci=0.01)
    m = measure(FakeWork(clock).run, None, policy, clock)
    assert (len(m.sample_ns), m.stopped_by) == (15, "target_ci")


def test_target_ci_not_reached_runs_on_to_max_time() -> None:
    clock = FakeClock()
    costs = iter([1000, 3000] * 100_000)

    def noisy() -> None:
        clock.now += next(costs)

    policy = Policy(
        warmup_s=0.0,
        min_sample_s=1e-6,
        min_samples=10,
        min_time_s=0.0,
        target_ci=1e-6,
        max_time_s=1e-4,
    )
    m = measure(noisy, None, policy, clock)
    assert m.loops == 1
    assert m.stopped_by == "max_time"
    assert set(m.sample_ns) == {1000, 3000}
    assert sum(m.sample_ns) >= 100_000


def test_fence_per_call_syncs_every_call_in_measure() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    m = measure(work.run, Fence(work.sync, per_call=True), BASE, clock)
    assert m.loops == 256
    assert work.syncs == work.calls == 1 + 511 + 10 * 256


def test_fence_per_sample_syncs_once_per_timed_sample_in_measure() -> None:
    clock = FakeClock()
    work = FakeWork(clock)
    m = measure(work.run, Fence(work.sync, per_call=False), BASE, clock)
    assert m.loops == 256
    assert work.calls == 1 + 511 + 10 * 256
    # 1 warm-up call, 9 calibration samples (1, 2, ..., 256 loops), 10 samples.
    assert work.syncs == 1 + 9 + 10


def test_gc_is_off_inside_samples_and_back_on_after() -> None:
    gc.enable()
    clock = FakeClock()
    work = FakeWork(clock)
    m = measure(work.run, None, BASE, clock)
    assert gc.isenabled()
    warm_and_calibrate = 1 + 511
    assert all(work.gc_seen[:warm_and_calibrate])
    assert not any(work.gc_seen[warm_and_calibrate:])
    assert len(work.gc_seen) == warm_and_calibrate + len(m.sample_ns) * m.loops


def test_gc_stays_on_when_the_policy_says_so() -> None:
    gc.enable()
    clock = FakeClock()
    work = FakeWork(clock)
    measure(
        work.run, None, Policy(warmup_s=0.0, min_samples=3, disable_gc=False, min_time_s=0), clock
    )
    assert all(work.gc_seen)
    assert gc.isenabled()


def test_gc_is_back_on_when_the_call_raises_mid_sample() -> None:
    gc.enable()
    clock = FakeClock()
    work = FakeWork(clock)

    def failing() -> None:
        work.run()
        if work.calls == 600:  # after warm-up and calibration (512 calls), inside a sample
            raise RuntimeError("device lost")

    with pytest.raises(BackendError, match="RuntimeError in a timed call: device lost") as info:
        measure(failing, None, BASE, clock)
    assert isinstance(info.value.__cause__, RuntimeError)  # the backend's own error, chained
    assert work.gc_seen[-1] is False
    assert gc.isenabled()


def test_gc_left_off_if_it_was_off_before() -> None:
    gc.disable()
    clock = FakeClock()
    measure(FakeWork(clock).run, None, BASE, clock)
    assert not gc.isenabled()
