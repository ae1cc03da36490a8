"""pytest plugin: the `accelbench` fixture times a workload on a backend through accelbench's runner."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import pytest

# Heavy imports (numpy, scipy, backends) wait until a test asks for the fixture: this module
# loads in every pytest run of an environment where accelbench is installed.


@functools.cache
def _fingerprint() -> dict[str, Any]:
    from bench.core import fingerprint

    return fingerprint.collect()


class AccelbenchFixture:
    """Call once per test: `accelbench("gemm", "numpy", params={"m": 64})` -> CaseResult.

    The case runs as `accelbench run` runs it: matched seeded inputs, an untimed prepare,
    a correctness check against the float64 reference, then warm-up, calibrated loops and
    samples with the backend's device fence. With pytest-benchmark active, the raw samples
    become the `benchmark` fixture's rounds (its tables, --benchmark-json, --benchmark-compare
    work unchanged) and accelbench's statistics and fingerprint go into its extra_info.
    """

    def __init__(self, benchmark: Any | None) -> None:
        self._benchmark = benchmark
        self.result: Any = None

    def __call__(
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
        from bench.app.runs import run_one
        from bench.core.errors import BackendUnavailable
        from bench.core.policy import QUICK

        if self.result is not None:
            raise RuntimeError("the accelbench fixture runs one case per test")
        try:
            result, info = run_one(
                workload, backend, params or {}, options or {}, scenario, policy or QUICK,
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
