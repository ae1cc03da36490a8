"""Machine ceilings (calibrated or datasheet) and each case's fraction of its roofline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bench.core import workloads
from bench.core.records import CALIBRATION_KIND, CaseResult, RunRecord

CeilingKind = Literal["matrix", "memory"]


@dataclass(frozen=True)
class Ceiling:
    """A peak rate on one backend: FLOP/s for `matrix` (per dtype), bytes/s for `memory`."""

    backend: str
    device: str
    kind: CeilingKind
    dtype: str
    per_s: float
    workload: str
    origin: str  # a run id, or a datasheet figure id
    case_id: str = ""


def is_calibration(record: RunRecord) -> bool:
    return record.config.kind == CALIBRATION_KIND


def device_label(record: RunRecord, backend: str) -> str:
    """The device a backend ran on, in words a datasheet match can use (GPU name, CPU model)."""
    info: Mapping[str, Any] = record.backends.get(backend, {}) or {}
    for key in ("device_name", "gpu_name", "name"):
        if isinstance(info.get(key), str) and info[key]:
            return str(info[key])
    device = str(info.get("device", "") or "")
    gpus = record.fingerprint.get("gpus") or []
    if device not in ("", "cpu", "none") and gpus and isinstance(gpus[0], Mapping):
        return str(gpus[0].get("name", device))
    if device in ("", "cpu"):
        return str(record.fingerprint.get("cpu", {}).get("model", "cpu"))
    return device


def _dtype(case: CaseResult) -> str:
    return str(case.params.get("dtype", ""))


def ceiling_kind(workload: str) -> CeilingKind | None:
    """The ceiling a workload's rate measures, as its spec says; None for any other workload."""
    if workload not in workloads.KERNELS:  # chat, or a workload this version does not know
        return None
    spec = workloads.get(workload)
    if not spec.measures_peak or spec.bound is None:
        return None
    return "matrix" if spec.bound == "compute" else "memory"


def _case_ceiling(record: RunRecord, case: CaseResult) -> Ceiling | None:
    if case.status != "ok":
        return None
    kind = ceiling_kind(case.workload)
    if kind is None:
        return None
    giga_per_s = case.gflops_per_s if kind == "matrix" else case.gb_per_s
    if not giga_per_s:
        return None
    return Ceiling(
        case.backend,
        device_label(record, case.backend),
        kind,
        _dtype(case),
        giga_per_s * 1e9,
        case.workload,
        record.run_id,
        case.case_id,
    )


def ceilings_from_record(record: RunRecord) -> list[Ceiling]:
    """The best rate per (backend, kind, dtype, workload): the largest GEMM wins, and so on."""
    best: dict[tuple[str, str, str, str], Ceiling] = {}
    for case in record.cases:
        c = _case_ceiling(record, case)
        if c is None:
            continue
        key = (c.backend, c.kind, c.dtype if c.kind == "matrix" else "", c.workload)
        if key not in best or c.per_s > best[key].per_s:
            best[key] = c
    return sorted(best.values(), key=lambda c: (c.backend, c.kind, c.dtype, c.workload))


def peak(
    ceilings: Iterable[Ceiling], backend: str, kind: CeilingKind, dtype: str = ""
) -> Ceiling | None:
    """The highest ceiling of `kind` on `backend` (matrix ones for `dtype` only)."""
    found = [
        c
        for c in ceilings
        if c.backend == backend and c.kind == kind and (kind == "memory" or c.dtype == dtype)
    ]
    return max(found, key=lambda c: c.per_s, default=None)


def machine_peak(
    ceilings: Sequence[Ceiling], backend: str, kind: CeilingKind, dtype: str = ""
) -> Ceiling | None:
    """The best ceiling of `kind` on the device `backend` ran on, whichever backend set it.

    Memory bandwidth and peak FLOP/s belong to the hardware: a backend that copies or
    multiplies slower than another on the same device is measured against the better one.
    """
    devices = {c.device for c in ceilings if c.backend == backend}
    found = [
        c
        for c in ceilings
        if c.device in devices and c.kind == kind and (kind == "memory" or c.dtype == dtype)
    ]
    return max(found, key=lambda c: c.per_s, default=None)


def roofline_per_s(peak_flops: float | None, bandwidth: float | None, intensity: float) -> float:
    """Attainable FLOP/s at `intensity` FLOP/byte: min(peak, intensity x bandwidth)."""
    bounds = [b for b in (peak_flops, intensity * bandwidth if bandwidth else None) if b]
    return min(bounds) if bounds else 0.0


def fraction_of_ceiling(case: CaseResult, ceilings: Sequence[Ceiling]) -> float | None:
    """Achieved rate over the roofline of the case's device; None when nothing applies.

    A case with a FLOP count is held to min(matrix peak for its dtype, intensity x memory
    peak); a case with bytes only (copy) to the memory peak alone. The peaks are the best any
    backend reached on the device the case's backend ran on (machine_peak). Above 1.0 means
    the case's data sat in cache, which is faster than the DRAM bandwidth copy/triad measure.
    """
    if case.status != "ok":
        return None
    matrix = machine_peak(ceilings, case.backend, "matrix", _dtype(case))
    memory = machine_peak(ceilings, case.backend, "memory")
    if case.gflops_per_s and case.intensity_flop_per_byte:
        if matrix is None and memory is None:
            return None
        attainable = roofline_per_s(
            matrix.per_s if matrix else None,
            memory.per_s if memory else None,
            case.intensity_flop_per_byte,
        )
        return case.gflops_per_s * 1e9 / attainable if attainable else None
    if case.gb_per_s and memory is not None:
        return case.gb_per_s * 1e9 / memory.per_s
    return None


def bound_of(case: CaseResult, ceilings: Sequence[Ceiling]) -> str:
    """Which roof limits the case: 'compute', 'memory', or '' when unknown."""
    matrix = machine_peak(ceilings, case.backend, "matrix", _dtype(case))
    memory = machine_peak(ceilings, case.backend, "memory")
    if not case.intensity_flop_per_byte:
        return "memory" if case.gb_per_s and memory else ""
    if matrix is None or memory is None:
        return "compute" if matrix else ("memory" if memory else "")
    ridge = matrix.per_s / memory.per_s  # FLOP/byte where the two roofs meet
    return "compute" if case.intensity_flop_per_byte >= ridge else "memory"


def rebased(ceilings: Iterable[Ceiling], backend: str) -> list[Ceiling]:
    """The same ceilings under another backend name (datasheet figures apply to any backend)."""
    return [
        Ceiling(backend, c.device, c.kind, c.dtype, c.per_s, c.workload, c.origin, c.case_id)
        for c in ceilings
    ]
