"""Measures this machine's ceilings: large GEMM per dtype, STREAM copy and triad, per backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import backends as registry
from bench.core import fingerprint, workloads
from bench.core.config import Planned
from bench.core.policy import Policy
from bench.core.records import (
    CALIBRATION_KIND,
    CaseResult,
    RunConfig,
    RunRecord,
    case_config,
    new_run,
)
from bench.runner.clock import new_run_id, wall_iso
from bench.runner.local import LocalSession

# Enough samples for a stable median of long calls; a ceiling is a best case, not a latency.
POLICY = Policy(warmup_s=0.1, min_samples=5, min_time_s=0.5, max_time_s=10.0)
QUICK_POLICY = Policy(warmup_s=0.02, min_samples=3, min_time_s=0.05, max_time_s=2.0)
CPU_DTYPES = ("float32", "float64")
# float16 on a CPU has no BLAS and measures numpy's emulation, not the machine.
DEVICE_DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class Sizes:
    """GEMM edge lengths (the best one sets the ceiling) and the STREAM vector length."""

    gemm: tuple[int, ...]
    stream_n: int


# CPU: 2048^3 is ~17 GFLOP a call; 16 Mi floats (64 MiB a vector) are far past any cache.
CPU_SIZES = Sizes((1024, 2048), 1 << 24)
# GPU: 8192^3 keeps every SM busy; 256 Mi floats (1 GiB a vector) are far past any L2.
DEVICE_SIZES = Sizes((4096, 8192), 1 << 28)
QUICK_SIZES = Sizes((256, 512), 1 << 20)


def on_device(device: str) -> bool:
    return device not in ("", "cpu", "none")


def _planned(name: str, params: Mapping[str, Any], backend: str) -> Planned:
    spec = workloads.get(name)
    owner = f"calibration workload '{name}'"
    return Planned(spec, spec.resolve(params, owner=owner), backend, {}, "throughput")


def plan(
    devices: Mapping[str, str], dtypes: Sequence[str] | None = None, quick: bool = False
) -> list[Planned]:
    """Per backend (name -> device kind): GEMM at each size and dtype, then copy and triad."""
    planned = []
    for backend, device in devices.items():
        sizes = QUICK_SIZES if quick else DEVICE_SIZES if on_device(device) else CPU_SIZES
        chosen = dtypes or (DEVICE_DTYPES if on_device(device) else CPU_DTYPES)
        for dtype in chosen:
            for n in sizes.gemm:
                planned.append(_planned("gemm", {"m": n, "n": n, "k": n, "dtype": dtype}, backend))
        for name in ("copy", "triad"):
            planned.append(_planned(name, {"n": sizes.stream_n, "dtype": "float32"}, backend))
    return planned


def describe(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each backend's version and device, as `accelbench run` records them."""
    return {name: registry.describe(name) for name in names}


def new_record(
    planned: Sequence[Planned],
    backends: Mapping[str, Mapping[str, Any]],
    policy: Policy,
    command: str,
    quick: bool = False,
) -> RunRecord:
    """A calibration record before any case: config kind 'calibrate' marks it for readers."""
    config = RunConfig(
        kind=CALIBRATION_KIND,
        command=command,
        source="accelbench calibrate",
        quick=quick,
        policy=policy,  # seed 0 and one input set: LocalSession's defaults, as measure_all runs
        cases=tuple(case_config(p) for p in planned),
    )
    stamp = wall_iso()
    run_id = new_run_id(stamp, "calibration-")
    return new_run(config, fingerprint.collect(), backends, stamp, run_id)


def measure_all(planned: Sequence[Planned], policy: Policy) -> Iterator[CaseResult]:
    """Each planned case through LocalSession (check against the reference, then time)."""
    session = LocalSession(policy)
    try:
        yield from session.run(planned)
    finally:
        session.close()


def calibrate(
    devices: Mapping[str, str],
    command: str = "accelbench calibrate",
    dtypes: Sequence[str] | None = None,
    quick: bool = False,
) -> RunRecord:
    """The whole calibration, in memory: plan, measure, finish (the CLI saves as it goes)."""
    policy = QUICK_POLICY if quick else POLICY
    planned = plan(devices, dtypes, quick)
    record = new_record(planned, describe(list(devices)), policy, command, quick)
    for result in measure_all(planned, policy):
        record = record.with_case(result)
    return record.finish(wall_iso(), "complete")
