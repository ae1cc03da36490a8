"""NVIDIA GPUs through NVML (pynvml, optional): the fingerprint, power samples, energy per call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

from bench.core.errors import MissingExtra
from bench.core.optional import require

EXTRA = "nvml"  # pip install 'accelbench[nvml]' brings nvidia-ml-py, which provides `pynvml`

# Clock-event bits (nvmlClocksEventReason*): which slowdowns a sample saw. Idle, an
# application clock setting and the display clock are not throttling of a running kernel.
THROTTLE_BITS = {
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal",
    0x40: "hw_thermal",
    0x80: "hw_power_brake",
}


@dataclass(frozen=True)
class GpuInfo:
    """One device as NVML describes it; a field NVML cannot read on this device is None."""

    index: int
    name: str
    uuid: str
    memory_bytes: int | None
    sm_clock_max_mhz: int | None
    mem_clock_max_mhz: int | None
    power_limit_w: float | None
    mig_enabled: bool | None


@dataclass(frozen=True)
class NvmlFingerprint:
    driver: str
    cuda: str | None  # the CUDA version the driver supports, e.g. "12.4"
    gpus: tuple[GpuInfo, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"driver": self.driver, "cuda": self.cuda, "gpus": [asdict(g) for g in self.gpus]}


def nvml_module() -> ModuleType:
    """`pynvml`, or MissingExtra naming the extra that installs it."""
    return require("pynvml", EXTRA)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read(nvml: ModuleType, fn: str, *args: Any) -> Any:
    """One NVML query; None where the device or driver does not support it."""
    try:
        return getattr(nvml, fn)(*args)
    except (nvml.NVMLError, AttributeError):
        return None


def _cuda_version(nvml: ModuleType) -> str | None:
    raw = _read(nvml, "nvmlSystemGetCudaDriverVersion_v2")
    raw = raw if raw is not None else _read(nvml, "nvmlSystemGetCudaDriverVersion")
    return None if raw is None else f"{int(raw) // 1000}.{int(raw) % 1000 // 10}"


def _gpu(nvml: ModuleType, index: int) -> GpuInfo:
    h = nvml.nvmlDeviceGetHandleByIndex(index)
    memory = _read(nvml, "nvmlDeviceGetMemoryInfo", h)
    limit_mw = _read(nvml, "nvmlDeviceGetEnforcedPowerLimit", h)
    if limit_mw is None:
        limit_mw = _read(nvml, "nvmlDeviceGetPowerManagementLimit", h)
    mig = _read(nvml, "nvmlDeviceGetMigMode", h)
    return GpuInfo(
        index=index,
        name=_text(nvml.nvmlDeviceGetName(h)),
        uuid=_text(nvml.nvmlDeviceGetUUID(h)),
        memory_bytes=None if memory is None else int(memory.total),
        sm_clock_max_mhz=_read(nvml, "nvmlDeviceGetMaxClockInfo", h, nvml.NVML_CLOCK_SM),
        mem_clock_max_mhz=_read(nvml, "nvmlDeviceGetMaxClockInfo", h, nvml.NVML_CLOCK_MEM),
        power_limit_w=None if limit_mw is None else limit_mw / 1000.0,
        mig_enabled=None if mig is None else bool(mig[0]),
    )


def probe(nvml: ModuleType | None = None) -> tuple[NvmlFingerprint | None, str]:
    """The GPUs NVML sees, or None and why not (no pynvml, no driver, no device); never raises."""
    try:
        nvml = nvml or nvml_module()
    except MissingExtra as exc:
        return None, str(exc)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return None, f"NVML cannot start ({exc}): no NVIDIA driver or no GPU here"
    try:
        count = int(nvml.nvmlDeviceGetCount())
        if count == 0:
            return None, "NVML sees no GPU"
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        gpus = tuple(_gpu(nvml, i) for i in range(count))
        return NvmlFingerprint(driver, _cuda_version(nvml), gpus), ""
    except nvml.NVMLError as exc:
        return None, f"NVML query failed: {exc}"
    finally:
        _read(nvml, "nvmlShutdown")


def fingerprint_section(nvml: ModuleType | None = None) -> dict[str, Any] | None:
    """What the environment fingerprint records about GPUs; None (nothing) without one."""
    found, _ = probe(nvml)
    return None if found is None else found.as_dict()


# ---------------------------------------------------------------------------- telemetry


@dataclass(frozen=True)
class PowerSample:
    """One reading beside a run: when (the runner's clock), board power, SM clock, slowdowns."""

    t_ns: int
    power_w: float
    sm_clock_mhz: int | None = None
    events: int = 0  # clock-event (throttle) reason bits
    energy_mj: int | None = None  # the board's cumulative energy counter, where it has one


def reader(nvml: ModuleType, index: int = 0) -> Callable[[int], PowerSample]:
    """A function t_ns -> PowerSample for device `index` (NVML initialised by the caller)."""
    h = nvml.nvmlDeviceGetHandleByIndex(index)
    events_fn = next(
        (f for f in ("nvmlDeviceGetCurrentClocksEventReasons",
                     "nvmlDeviceGetCurrentClocksThrottleReasons") if hasattr(nvml, f)),
        None,
    )  # fmt: skip

    def read(t_ns: int) -> PowerSample:
        events = _read(nvml, events_fn, h) if events_fn else None
        return PowerSample(
            t_ns=t_ns,
            power_w=nvml.nvmlDeviceGetPowerUsage(h) / 1000.0,
            sm_clock_mhz=_read(nvml, "nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_SM),
            events=int(events or 0),
            energy_mj=_read(nvml, "nvmlDeviceGetTotalEnergyConsumption", h),
        )

    return read


def _power_at(samples: Sequence[PowerSample], t_ns: int) -> float:
    """Power at t by linear interpolation between the samples around it (held at the ends)."""
    if t_ns <= samples[0].t_ns:
        return samples[0].power_w
    for a, b in zip(samples, samples[1:], strict=False):
        if a.t_ns <= t_ns <= b.t_ns:
            span = b.t_ns - a.t_ns
            return (
                a.power_w
                if span == 0
                else a.power_w + (b.power_w - a.power_w) * ((t_ns - a.t_ns) / span)
            )
    return samples[-1].power_w


def energy_j(
    samples: Sequence[PowerSample], start_ns: int | None = None, end_ns: int | None = None
) -> float | None:
    """Joules between start and end (default: the samples' span), trapezoid over the power
    samples, the window's edges interpolated; None with fewer than two samples."""
    ordered = sorted(samples, key=lambda s: s.t_ns)
    if len(ordered) < 2:
        return None
    start = ordered[0].t_ns if start_ns is None else start_ns
    end = ordered[-1].t_ns if end_ns is None else end_ns
    if end <= start:
        return 0.0
    inner = [(s.t_ns, s.power_w) for s in ordered if start < s.t_ns < end]
    points = [(start, _power_at(ordered, start)), *inner, (end, _power_at(ordered, end))]
    total = sum(
        (t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(points, points[1:], strict=False)
    )
    return total / 1e9


def counter_energy_j(samples: Sequence[PowerSample]) -> float | None:
    """Joules from the board's energy counter between the first and last sample, if it has one."""
    ordered = sorted(samples, key=lambda s: s.t_ns)
    if len(ordered) < 2 or ordered[0].energy_mj is None or ordered[-1].energy_mj is None:
        return None
    return (ordered[-1].energy_mj - ordered[0].energy_mj) / 1000.0


def joules_per_inference(energy: float | None, calls: int, batch: int = 1) -> float | None:
    """Energy over the timed calls divided by the samples they processed."""
    return None if energy is None or calls <= 0 or batch <= 0 else energy / (calls * batch)


def throttling(samples: Sequence[PowerSample]) -> tuple[str, ...]:
    """The slowdowns any sample saw (power cap, thermal, ...), named, in bit order."""
    seen = 0
    for s in samples:
        seen |= s.events
    return tuple(name for bit, name in THROTTLE_BITS.items() if seen & bit)
