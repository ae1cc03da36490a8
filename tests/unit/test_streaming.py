"""The streaming runner's pieces on a fake clock: stamping, kernel stamps, bounds, 429 policies."""

from __future__ import annotations

from bench.core.records import RequestRecord
from bench.remote.chat import Load
from bench.runner.streaming import RealtimeOffset, RunState, StampSink


class FakeClock:
    """perf_counter_ns stand-in: returns `now`, which the test moves."""

    def __init__(self, now: int = 1_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _sink(clock: FakeClock) -> tuple[StampSink, list[tuple[int, bytes]]]:
    got: list[tuple[int, bytes]] = []
    sink = StampSink(clock, lambda t, d: got.append((t, d)), RealtimeOffset(clock))
    return sink, got


def test_user_space_stamps_are_the_clock_when_bytes_are_handed_over() -> None:
    clock = FakeClock(5_000)
    sink, got = _sink(clock)
    sink.sent()
    clock.now = 7_000
    assert sink.mark() == 7_000
    sink.headers(200)
    sink.feed(sink.now, b"data: x\n\n")
    assert (sink.sent_ns, sink.headers_ns, sink.status) == (5_000, 7_000, 200)
    assert got == [(7_000, b"data: x\n\n")] and not sink.kernel and len(sink.delays) == 0


def test_kernel_stamps_are_converted_and_the_read_delay_kept() -> None:
    clock = FakeClock(50_000)
    sink, _ = _sink(clock)
    offset = sink.offset.ns  # CLOCK_REALTIME minus the (fake) perf clock
    assert sink.mark(offset + 42_000) == 42_000  # arrived 8 µs before it was read
    assert sink.kernel and sink.read_delay == 8_000 and list(sink.delays) == [8_000]
    assert sink.mark(offset + 60_000) == 50_000  # never later than the read itself


def test_count_bound_and_warmup_start() -> None:
    clock = FakeClock()
    state = RunState(Load("concurrency", requests=2, warmup_requests=1), clock)
    assert [state.next_index() for _ in range(4)] == [0, 1, 2, None]
    assert state.stopped_by == "requests" and state.measured_from == clock.now


def test_duration_bound_counts_from_the_first_measured_request() -> None:
    clock = FakeClock(0)
    state = RunState(Load("concurrency", requests=0, duration_s=1.0, warmup_requests=1), clock)
    assert state.next_index() == 0  # warm-up
    clock.now = 5_000_000_000
    assert state.next_index() == 1  # the measured phase starts now
    clock.now += 999_000_000
    assert state.next_index() == 2
    clock.now += 1_000_000
    assert state.next_index() is None and state.stopped_by == "duration"


def _429(retry: float | None) -> RequestRecord:
    return RequestRecord(0, False, "failed", failure="http_429", retry_after_s=retry)


def test_429_stop_and_backoff_policies() -> None:
    clock = FakeClock(0)
    stop = RunState(Load("concurrency", on_429="stop"), clock)
    stop.done(_429(1.0))
    assert stop.next_index() is None and stop.stopped_by == "429 (on_429=stop)"
    back = RunState(Load("concurrency", on_429="backoff"), clock)
    back.done(_429(2.5))
    assert back.pause_until == 2_500_000_000
    back.done(_429(None))  # no retry-after: 1 s, doubling
    assert back.pause_until == 2_500_000_000 and back.backoff_s == 4.0
    count = RunState(Load("concurrency", on_429="count"), clock)
    count.done(_429(9.0))
    assert count.pause_until == 0 and not count.stopped_by
