"""The streaming load generator: closed-loop concurrency, open-loop rate, sweeps; it stamps every byte."""

from __future__ import annotations

import asyncio
import gc
import random
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from bench import backends as registry
from bench.core.errors import BackendError, BackendUnavailable, BenchError, ConfigError
from bench.core.records import CaseResult, RequestRecord, StreamStop
from bench.remote import chat
from bench.remote import metrics as chat_metrics
from bench.remote.chat import ChatCase, Load, Prompt
from bench.remote.protocol import StreamingBackend
from bench.remote.wire import RequestFailed, event_loop_factory
from bench.runner.clock import Clock, perf_ns, wall_iso
from bench.runner.stream_result import Driven, case_fields, case_result

_LAG_PERIOD_S = 0.01  # 100 probes a second: each wake-up costs CPU on an idle client
_RSS_EVERY = 50  # lag probes between memory samples (0.5 s)
_PRECONNECT_MAX = 512


class RealtimeOffset:
    """CLOCK_REALTIME minus perf_counter_ns: puts kernel receive stamps on the run's clock.

    Refreshed while the run goes (the monitor calls refresh), so a slewing wall clock cannot
    drift the conversion.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock, self.ns = clock, 0
        self.refresh()

    def refresh(self) -> None:
        best = (1 << 62, 0)
        for _ in range(3):  # the tightest bracket of the three wins
            a = self.clock()
            real = time.clock_gettime_ns(time.CLOCK_REALTIME)
            b = self.clock()
            best = min(best, (b - a, real - (a + b) // 2))
        self.ns = best[1]


class StampSink:
    """Receives a response from the backend and stamps it: the hot path, kept minimal."""

    __slots__ = (
        "clock", "sent_ns", "headers_ns", "status", "now", "feed", "offset",
        "read_delay", "kernel", "delays", "sends",
    )  # fmt: skip

    def __init__(
        self,
        clock: Clock,
        feed: Callable[[int, bytes], None],
        offset: RealtimeOffset,
        delays: array | None = None,
    ) -> None:
        self.clock, self.feed, self.offset = clock, feed, offset
        self.delays = delays if delays is not None else array("q")  # every read's delay, ns
        self.sent_ns: int | None = None
        self.headers_ns: int | None = None
        self.status, self.now, self.read_delay, self.kernel = 0, 0, 0, False
        self.sends = 0

    def sent(self) -> None:
        """Called again when the transport re-sends on a fresh connection: the last send counts."""
        self.sent_ns = self.clock()
        self.sends += 1

    def mark(self, kernel_ns: int = 0) -> int:
        """Bytes arrived: stamped here, before any parsing. With the kernel's receive stamp the
        stamp is when they arrived, and the gap to now is how far behind the client read."""
        now = self.clock()
        if not kernel_ns:
            self.now = now
            return now
        stamp = kernel_ns - self.offset.ns
        if stamp > now:  # never later than the read itself
            stamp = now
        self.now, self.kernel = stamp, True
        delay = now - stamp
        self.delays.append(delay)
        if delay > self.read_delay:
            self.read_delay = delay
        return stamp

    def headers(self, status: int) -> None:
        self.headers_ns, self.status = self.now, status


def arrival_gaps(load: Load) -> Iterator[float]:
    """Seconds between scheduled arrivals: constant 1/rate, or exponential (Poisson), seeded."""
    rng = random.Random(load.seed)
    while True:
        yield (
            1.0 / load.rate_per_s
            if load.arrival == "constant"
            else rng.expovariate(load.rate_per_s)
        )


class ClientMonitor:
    """Event-loop lag (how long a ready callback waits: the stamping delay), CPU and memory."""

    def __init__(self, clock: Clock, offset: RealtimeOffset | None = None) -> None:
        self.clock, self.offset = clock, offset
        self.lags: list[float] = []
        self.rss_max = 0
        self._proc = psutil.Process()
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        times = self._proc.cpu_times()
        self._cpu0, self._t0 = times.user + times.system, self.clock()
        self.rss_max = self._proc.memory_info().rss
        self._handle = self.loop.call_later(_LAG_PERIOD_S, self._probe)

    def _probe(self) -> None:
        self.loop.call_soon(self._measure, self.clock())

    def _measure(self, t: int) -> None:
        self.lags.append((self.clock() - t) / 1e9)
        if len(self.lags) % _RSS_EVERY == 0:
            self.rss_max = max(self.rss_max, self._proc.memory_info().rss)
        if self.offset is not None and len(self.lags) % 10 == 0:  # every 100 ms
            self.offset.refresh()
        self._handle = self.loop.call_later(_LAG_PERIOD_S, self._probe)

    def stop(self, send_lag_s: Sequence[float]) -> chat_metrics.ClientHealth:
        if self._handle is not None:
            self._handle.cancel()
        times = self._proc.cpu_times()
        wall = (self.clock() - self._t0) / 1e9
        cpu = (times.user + times.system - self._cpu0) / wall if wall > 0 else None
        rss = max(self.rss_max, self._proc.memory_info().rss) / 1e6
        return chat_metrics.ClientHealth(cpu, rss, tuple(self.lags), tuple(send_lag_s))


@dataclass
class RunState:
    """Bounds, stop and back-off shared by the issuing loops of one case."""

    load: Load
    clock: Clock
    issued: int = 0
    measured_from: int | None = None
    stopped_by: StreamStop = ""
    pause_until: int = 0
    backoff_s: float = 1.0
    records: list[RequestRecord] = field(default_factory=list)

    @property
    def total(self) -> int | None:
        return self.load.warmup_requests + self.load.requests if self.load.requests else None

    def next_index(self) -> int | None:
        """The next request's index, or None once a bound (or a stop) is reached."""
        if self.stopped_by:
            return None
        if self.total is not None and self.issued >= self.total:
            self.stopped_by = "requests"
            return None
        now = self.clock()
        if self.issued == self.load.warmup_requests:
            self.measured_from = now
        limit = self.load.duration_s
        if limit and self.measured_from is not None and now - self.measured_from >= limit * 1e9:
            self.stopped_by = "duration"
            return None
        self.issued += 1
        return self.issued - 1

    def done(self, record: RequestRecord) -> None:
        self.records.append(record)
        if record.failure != "http_429":
            self.backoff_s = 1.0
            return
        if self.load.on_429 == "stop":
            self.stopped_by = self.stopped_by or "429 (on_429=stop)"
        elif self.load.on_429 == "backoff":
            wait = record.retry_after_s or self.backoff_s
            self.backoff_s = min(self.backoff_s * 2, 60.0)
            self.pause_until = max(self.pause_until, self.clock() + int(wait * 1e9))

    async def backed_off(self) -> None:
        """Wait out a back-off pause (on_429=backoff)."""
        while (left := self.pause_until - self.clock()) > 0:
            await asyncio.sleep(left / 1e9)


class CaseDriver:
    """Issues one case's requests against a backend and turns each into a RequestRecord."""

    def __init__(
        self,
        case: ChatCase,
        backend: StreamingBackend,
        prompts: Sequence[Prompt],
        seed: int,
        clock: Clock,
    ) -> None:
        self.case, self.backend, self.prompts = case, backend, prompts
        self.seed, self.clock = seed, clock
        self.state = RunState(case.load, clock)
        self.origin = clock()
        self.send_lag: list[float] = []
        self.offset = RealtimeOffset(clock)
        self.read_delays = array("q")

    def build(self, index: int) -> tuple[bytes, str]:
        prompt = self.prompts[index % len(self.prompts)]
        fields = chat.request_fields(prompt, self.case.params, index, self.seed)
        return self.backend.request(fields), chat.expected_text(prompt, self.case.params)

    async def issue(self, index: int, scheduled_ns: int, built: tuple[bytes, str]) -> RequestRecord:
        """One request; every failure, cancellation included, becomes a failed record."""
        reader = self.backend.reader()
        sink = StampSink(self.clock, reader.feed, self.offset, self.read_delays)
        failure: RequestFailed | None = None
        try:
            await self.backend.stream(built[0], sink)
        except RequestFailed as exc:
            failure = exc
        except asyncio.CancelledError:  # the run's drain ran out: the request is recorded, not lost
            failure = RequestFailed(
                "cancelled",
                f"still in flight {self.case.load.drain_s:g} s after the last request was sent (drain_s)",
            )
        content = reader.finish(sink.now)
        stamps = chat_metrics.Stamps(
            scheduled_ns,
            sink.sent_ns,
            sink.headers_ns,
            sink.status,
            sink.read_delay,
            sink.kernel,
            max(sink.sends, 1),
        )
        warm = index < self.case.load.warmup_requests
        record = chat_metrics.request_record(
            index, warm, stamps, content, failure, built[1], self.origin
        )
        if sink.sent_ns is not None and not warm:
            self.send_lag.append((sink.sent_ns - scheduled_ns) / 1e9)
        self.state.done(record)
        return record

    async def closed_loop(self) -> None:
        """N workers, each sending its next request as soon as the last one ended."""

        async def worker() -> None:
            while (index := self.state.next_index()) is not None:
                await self.state.backed_off()
                built = self.build(index)
                await self.issue(index, self.clock(), built)

        tasks = {asyncio.create_task(worker()) for _ in range(self.case.load.concurrency)}
        while tasks and not self.state.stopped_by:
            _, tasks = await asyncio.wait(tasks, timeout=0.05)
        await self.drain(tasks)

    async def open_loop(self) -> None:
        """Arrivals on a seeded schedule, whatever is in flight; latency counts from the schedule."""
        tasks: set[asyncio.Task[Any]] = set()
        gaps, due = arrival_gaps(self.case.load), self.clock()
        while (index := self.state.next_index()) is not None:
            built = self.build(index)
            due = max(due + int(next(gaps) * 1e9), self.state.pause_until)
            while (
                wait := due - self.clock()
            ) > 0:  # uvloop's ms timers may wake early: never send early
                await asyncio.sleep(wait / 1e9)
            task = asyncio.create_task(self.issue(index, due, built))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await self.drain(tasks)

    async def drain(self, tasks: set[asyncio.Task[Any]]) -> None:
        """In-flight requests get drain_s after the last was issued; then they are cancelled."""
        if not tasks:
            return
        _, late = await asyncio.wait(set(tasks), timeout=self.case.load.drain_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def run(self) -> chat_metrics.ClientHealth:
        load = self.case.load
        pool = load.concurrency if load.mode == "concurrency" else _rate_pool(load)
        self.backend.open(pool)
        # Connection set-up is not the endpoint's latency: open what the load will need first
        # (open loop: about a second of arrivals; more are opened, and timed, if needed).
        ahead = pool if load.mode == "concurrency" else int(load.rate_per_s) + 16
        await self.backend.connect(min(pool, ahead, _PRECONNECT_MAX))
        monitor = ClientMonitor(self.clock, self.offset)
        monitor.start()
        self.origin = self.clock()
        try:
            await (self.closed_loop() if load.mode == "concurrency" else self.open_loop())
        finally:
            self.backend.close()
        return monitor.stop(self.send_lag)


def _rate_pool(load: Load) -> int:
    """Open loop: room for ~4 s of arrivals in flight before requests queue for a connection."""
    return max(16, min(4096, int(load.rate_per_s * 4) + 16))


def run_async(make: Callable[[], Any], gc_off: bool = False) -> Any:
    """Run a coroutine on the loop the transport runs best on (uvloop where installed).

    `gc_off`: as timeit and the local runner do, no cyclic collection while measuring; a
    full collection over thousands of stored stamps stalls the loop for tens of ms, and
    every stream's stamps with it. It runs once afterwards instead.
    """
    enabled = gc.isenabled()
    if gc_off:
        gc.collect()
        gc.disable()
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(make())
    finally:
        if gc_off and enabled:
            gc.enable()
            gc.collect()


class StreamSession:
    """Runs planned chat cases one after another; yields one CaseResult per case."""

    def __init__(self, seed: int = 0, base: Path = Path("."), clock: Clock = perf_ns) -> None:
        self.seed, self.base, self.clock = seed, base, clock

    def run(self, cases: Sequence[ChatCase]) -> Iterator[CaseResult]:
        for case in cases:
            yield self.run_case(case)

    def run_case(self, case: ChatCase) -> CaseResult:
        started = wall_iso()
        backend: StreamingBackend | None = None
        try:
            backend = create(case.backend, dict(case.options))
            avail = backend.probe()
            if not avail.ok:
                raise BackendUnavailable(f"backend '{case.backend}': {avail.reason}")
            prompts = chat.prompts_for(case.params, self.seed, self.base)
            driver = CaseDriver(case, backend, prompts, self.seed, self.clock)
            health = run_async(driver.run, gc_off=True)
        except BenchError as exc:
            return CaseResult(**case_fields(case, started), status="failed", reason=str(exc))
        finally:
            if backend is not None:
                backend.close()
        driven = Driven(
            driver.state.records, driver.state.stopped_by, driver.origin, driver.read_delays,
            backend.options.get("verify", True) is False,
        )  # fmt: skip
        return case_result(case, driven, health, started)

    def close(self) -> None:
        return None


def create(name: str, options: dict[str, Any]) -> StreamingBackend:
    """Backend `name`, checked against the streaming contract before anything is sent."""
    backend = registry.create(name, options)
    if not isinstance(backend, StreamingBackend):
        raise BackendError(f"backend '{name}' is not a streaming backend: it cannot run 'chat'")
    return backend


def _closing(backend: StreamingBackend, make: Callable[[], Any]) -> Callable[[], Any]:
    """`make()` awaited, then the backend closed on the same loop: connections (TLS ones above
    all) are closed while their loop still runs, never after it ('Event loop is closed')."""

    async def run() -> Any:
        try:
            return await make()
        finally:
            backend.close()

    return run


def list_models(name: str, options: dict[str, Any]) -> list[str]:
    """Model ids backend `name` serves; a failure says what and where."""
    backend = create(name, options)
    try:
        return run_async(_closing(backend, backend.models))
    except RequestFailed as exc:
        raise BackendError(f"backend '{name}': cannot list models: {exc}") from None
    finally:
        backend.close()


def fetch_log(base_url: str) -> Any:
    """The synthetic server's send log (GET /synthetic/log), taken once: the server then clears it."""
    backend = create("synthetic", {"base_url": base_url})
    try:
        return run_async(_closing(backend, lambda: backend.get_json("/synthetic/log")))
    except RequestFailed as exc:
        raise BackendError(f"cannot fetch the send log from {base_url}: {exc}") from None
    finally:
        backend.close()


def preflight(cases: Sequence[ChatCase]) -> list[str]:
    """Before the run: keys present, models set and served. Returns notes for what it could not check."""
    notes, seen = [], set()
    for case in cases:
        key = (case.backend, repr(sorted(case.options.items())))
        if key in seen:
            continue
        seen.add(key)
        notes += _check_backend(case.backend, dict(case.options))
    return notes


def _check_backend(name: str, options: dict[str, Any]) -> list[str]:
    backend = create(name, options)
    avail = backend.probe()
    if not avail.ok:
        raise BackendUnavailable(f"backend '{name}' cannot run: {avail.reason}")
    model = backend.options["model"]
    try:
        served = run_async(_closing(backend, backend.models))
    except RequestFailed as exc:
        if exc.status in (401, 403):
            raise BackendUnavailable(f"backend '{name}': {exc}") from None
        return [f"backend '{name}': model list unavailable ({exc}); model '{model}' not checked"]
    finally:
        backend.close()
    if not model or model not in served:
        what = f"model '{model}' is not served" if model else "no model set (option 'model')"
        raise ConfigError(
            f"backend '{name}': {what} by {backend.endpoint.authority}; it serves: {', '.join(served) or 'nothing'}"
        )
    return []
