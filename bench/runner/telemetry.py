"""Power sampled beside a run on a background thread, stamped with the runner's clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from bench.core.gpuinfo import PowerSample
from bench.runner.clock import Clock, perf_ns


class PowerSampler:
    """Calls `read(t_ns)` every `interval_s` between start() and stop(); the samples stay raw
    so energy can be integrated over any window later (bench.core.gpuinfo.energy_j)."""

    def __init__(
        self, read: Callable[[int], PowerSample], interval_s: float = 0.02, clock: Clock = perf_ns
    ) -> None:
        self._read, self._interval_s, self._clock = read, interval_s, clock
        self._samples: list[PowerSample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str = ""

    def sample_once(self) -> PowerSample:
        sample = self._read(self._clock())
        self._samples.append(sample)
        return sample

    def _loop(self) -> None:
        try:
            while True:
                self.sample_once()
                if self._stop.wait(self._interval_s):
                    break
            self.sample_once()  # one reading at the very end, so the window is covered
        except Exception as exc:  # a driver error mid-run: keep what was read, say why
            self.error = f"{type(exc).__name__}: {exc}"

    def start(self) -> PowerSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="power-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> tuple[PowerSample, ...]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return tuple(self._samples)

    def __enter__(self) -> PowerSampler:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
