"""pytest plugin: the `accelbench` fixture times a workload on a backend through accelbench's runner."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import pytest

# Heavy imports (numpy, scipy, backends) wait until a test asks for the fixture: this module
# loads in every pytest run of an environment where accelbench is installed.


@dataclasses.dataclass(frozen=True)
class _CallableInfo:
    """What extra_info says about the 'backend' of a plain Python callable."""

    version: str
    device: str
    details: Mapping[str, Any]


def _measure_callable(name: str, run: Any, policy: Any) -> Any:
    """A user's function measured by the runner like a workload: warm-up, calibrated loops,
    samples; no correctness check, no device fence; the case id is the function's name."""
    from bench.core.records import CaseResult
    from bench.core.stats import summarize
    from bench.runner.measure import measure

    m = measure(run, None, policy)
    return CaseResult(
        case_id=name, workload="callable", params={}, backend="python", options={},
        scenario="latency", status="ok", loops=m.loops, sample_ns=m.sample_ns,
        warmup_calls=m.warmup_calls, stopped_by=m.stopped_by,
        stats=summarize([ns / m.loops / 1e9 for ns in m.sample_ns]),
    )  # fmt: skip


@functools.cache
def _fingerprint() -> dict[str, Any]:
    from bench.core import fingerprint

    return fingerprint.collect()


class AccelbenchFixture:
    """Call once per test: `accelbench(fn, *args)` times your function (like pytest-benchmark's
    `benchmark(fn, *args)`, returning its result), `accelbench("gemm", "numpy", params=...)`
    a built-in workload (-> CaseResult).

    A workload runs as `accelbench run` runs it: matched seeded inputs, an untimed prepare,
    a correctness check against the float64 reference, then warm-up, calibrated loops and
    samples with the backend's device fence. A callable gets the same warm-up, calibrated
    loops and samples. With pytest-benchmark active, the raw samples become the `benchmark`
    fixture's rounds (its tables, --benchmark-json, --benchmark-compare work unchanged),
    --benchmark-min-rounds is the least number of samples, and --benchmark-disable times
    nothing: a callable runs once, a workload is checked and its one sample discarded.
    """

    def __init__(self, benchmark: Any | None) -> None:
        self._benchmark = benchmark
        self.result: Any = None

    def __call__(self, target: Any, *args: Any, **kwargs: Any) -> Any:
        if callable(target):
            return self.callable(target, *args, **kwargs)
        return self.workload(target, *args, **kwargs)

    @property
    def disabled(self) -> bool:
        return bool(self._benchmark is not None and self._benchmark.disabled)

    def policy(self, policy: Any = None) -> Any:
        """The policy, with pytest-benchmark's --benchmark-min-rounds as the least samples."""
        from bench.core.policy import QUICK

        chosen = policy or QUICK
        if self.disabled:  # measure nothing: one call, one sample, discarded
            return dataclasses.replace(
                chosen, warmup_s=0.0, min_samples=1, max_samples=1, min_time_s=1e-9, loops=1
            )
        rounds = int(getattr(self._benchmark, "_min_rounds", 0) or 0)
        if rounds > chosen.min_samples:
            most = max(chosen.max_samples, rounds)
            return dataclasses.replace(chosen, min_samples=rounds, max_samples=most)
        return chosen

    def _once(self) -> None:
        if self.result is not None:
            raise RuntimeError("the accelbench fixture runs one case per test")

    def callable(self, fn: Any, *args: Any, policy: Any = None, **kwargs: Any) -> Any:
        """Time fn(*args, **kwargs) with accelbench's runner; return the first call's value."""
        self._once()
        value = fn(*args, **kwargs)  # the first call: its value is the test's, its time is not
        if self._benchmark is not None and self._benchmark.disabled:
            self.result = True
            self._benchmark._mode = "accelbench(...)"  # used, as pytest-benchmark's own would be
            return value
        name = getattr(fn, "__qualname__", repr(fn))
        self.result = _measure_callable(name, lambda: fn(*args, **kwargs), self.policy(policy))
        info = _CallableInfo(version="", device="cpu", details={"callable": name})
        self._record(self.result, info)
        return value

    def workload(
        self,
        workload: str,
        backend: str = "numpy",
        params: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        scenario: str = "latency",
        policy: Any = None,
        seed: int = 0,
        input_sets: int = 1,
    ) -> Any:
        """A built-in workload on a backend, as `accelbench run` measures it."""
        from bench.app.runs import run_one
        from bench.core.errors import BackendUnavailable

        self._once()
        try:
            result, info = run_one(
                workload, backend, params or {}, options or {}, scenario, self.policy(policy),
                seed, input_sets,
            )  # fmt: skip
        except BackendUnavailable as exc:
            pytest.skip(str(exc))
        if result.status == "unsupported":
            pytest.skip(f"{result.case_id}: {result.reason}")
        if result.status != "ok":
            pytest.fail(f"{result.case_id} failed: {result.reason}", pytrace=False)
        self.result = result
        self._record(result, info)
        return result

    def _record(self, result: Any, info: Any) -> None:
        bm = self._benchmark
        if bm is None:
            return
        bm.extra_info["accelbench"] = extra_info(result, info, _fingerprint())
        if bm.disabled:  # --benchmark-disable: the check ran, nothing to tabulate
            return
        # pytest-benchmark's own pedantic mode adds rounds through _make_stats(iterations) and
        # update(total seconds); feeding it accelbench's raw samples the same way keeps its
        # per-call figures (total / iterations) identical to ours.
        stats = bm._make_stats(result.loops)
        for ns in result.sample_ns:
            stats.update(ns / 1e9)
        bm._mode = "accelbench(...)"  # the fixture refuses a second use, as after pedantic()


def extra_info(result: Any, info: Any, fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """What pytest-benchmark's extra_info carries: accelbench's statistics and environment."""
    from bench.gate import interop

    return interop.to_plain(
        {
            "case_id": result.case_id,
            "backend": result.backend,
            "options": dict(result.options),
            "scenario": result.scenario,
            "loops": result.loops,
            "samples": len(result.sample_ns),
            "rel_error": result.rel_error,
            "tolerance": result.tolerance,
            "stopped_by": result.stopped_by,
            "stats": dataclasses.asdict(result.stats) if result.stats else None,
            "gflops_per_s": result.gflops_per_s,
            "gb_per_s": result.gb_per_s,
            "warnings": list(result.warnings),
            "backend_info": {"version": info.version, "device": info.device, **info.details},
            "fingerprint": dict(fingerprint),
        }
    )


@pytest.fixture
def accelbench(request: pytest.FixtureRequest) -> AccelbenchFixture:
    """Benchmark a workload on a backend through accelbench's runner (see AccelbenchFixture)."""
    active = request.config.pluginmanager.hasplugin("benchmark")
    return AccelbenchFixture(request.getfixturevalue("benchmark") if active else None)
