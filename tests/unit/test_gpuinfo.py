"""NVML without a GPU: a fake pynvml for the fingerprint, synthetic power samples for energy."""

from __future__ import annotations

import sys
import types
from collections import namedtuple

import pytest

from bench.core import fingerprint, gpuinfo
from bench.core.gpuinfo import PowerSample
from bench.runner.telemetry import PowerSampler

S = 1_000_000_000  # ns per second


class NVMLError(Exception):
    pass


def fake_nvml(*, gpus: int = 1, init_fails: bool = False, no_mig: bool = False) -> types.ModuleType:
    """The slice of pynvml that gpuinfo calls, answering like an H100 with MIG off."""
    m = types.ModuleType("pynvml")
    m.NVMLError = NVMLError
    m.NVML_CLOCK_SM, m.NVML_CLOCK_MEM = 1, 2
    m.calls = []
    mem = namedtuple("mem", "total free used")
    clocks = {1: 1980, 2: 2619}
    state = {"power_mw": 250_000, "energy_mj": 1_000_000, "events": 0x4}

    def init() -> None:
        if init_fails:
            raise NVMLError("Driver Not Loaded")
        m.calls.append("init")

    def mig(h: int) -> list[int]:
        if no_mig:
            raise NVMLError("Not Supported")
        return [0, 0]

    m.nvmlInit = init
    m.nvmlShutdown = lambda: m.calls.append("shutdown")
    m.nvmlDeviceGetCount = lambda: gpus
    m.nvmlDeviceGetHandleByIndex = lambda i: i
    m.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    m.nvmlDeviceGetUUID = lambda h: f"GPU-0000-{h}"
    m.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    m.nvmlSystemGetCudaDriverVersion_v2 = lambda: 12040
    m.nvmlDeviceGetMemoryInfo = lambda h: mem(80 * 2**30, 0, 0)
    m.nvmlDeviceGetMaxClockInfo = lambda h, kind: clocks[kind]
    m.nvmlDeviceGetClockInfo = lambda h, kind: clocks[kind] - 200
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700_000
    m.nvmlDeviceGetMigMode = mig
    m.nvmlDeviceGetPowerUsage = lambda h: state["power_mw"]
    m.nvmlDeviceGetTotalEnergyConsumption = lambda h: state["energy_mj"]
    m.nvmlDeviceGetCurrentClocksEventReasons = lambda h: state["events"]
    m.state = state
    return m


def test_fingerprint_names_every_field() -> None:
    nvml = fake_nvml(gpus=2)
    found, reason = gpuinfo.probe(nvml)
    assert reason == ""
    assert found is not None
    assert found.driver == "550.54.15"
    assert found.cuda == "12.4"
    assert [g.uuid for g in found.gpus] == ["GPU-0000-0", "GPU-0000-1"]
    g = found.gpus[0]
    assert g.name == "NVIDIA H100 80GB HBM3"
    assert g.memory_bytes == 80 * 2**30
    assert (g.sm_clock_max_mhz, g.mem_clock_max_mhz) == (1980, 2619)
    assert g.power_limit_w == 700.0
    assert g.mig_enabled is False
    assert nvml.calls == ["init", "shutdown"]  # NVML is shut down again after the query


def test_an_unsupported_query_is_none_not_an_error() -> None:
    found, _ = gpuinfo.probe(fake_nvml(no_mig=True))
    assert found is not None and found.gpus[0].mig_enabled is None


def test_no_driver_or_no_device_says_why() -> None:
    assert gpuinfo.probe(fake_nvml(init_fails=True)) == (
        None,
        "NVML cannot start (Driver Not Loaded): no NVIDIA driver or no GPU here",
    )
    assert gpuinfo.probe(fake_nvml(gpus=0)) == (None, "NVML sees no GPU")


def test_missing_pynvml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml now raises ImportError
    found, reason = gpuinfo.probe()
    assert found is None
    assert "pip install 'accelbench[nvml]'" in reason
    assert gpuinfo.fingerprint_section() is None


def test_environment_fingerprint_adds_nvml_only_when_a_gpu_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert "nvml" not in fingerprint.collect()
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    section = fingerprint.collect()["nvml"]
    assert section["driver"] == "550.54.15"
    assert section["gpus"][0]["power_limit_w"] == 700.0


def samples(*points: tuple[float, float]) -> list[PowerSample]:
    return [PowerSample(int(t * S), w) for t, w in points]


def test_energy_is_the_trapezoid_over_power() -> None:
    assert gpuinfo.energy_j(samples((0, 100), (1, 100), (2, 100))) == pytest.approx(200.0)
    assert gpuinfo.energy_j(samples((0, 0), (1, 100))) == pytest.approx(50.0)
    # Out of order in, same answer: the samples are sorted by time.
    assert gpuinfo.energy_j(samples((1, 100), (0, 0))) == pytest.approx(50.0)


def test_energy_over_a_window_interpolates_its_edges() -> None:
    s = samples((0, 0), (1, 100), (2, 0))
    # 50 W at 0.5 s, 100 W at 1 s, 50 W at 1.5 s: two trapezoids of 0.5 s * 75 W.
    assert gpuinfo.energy_j(s, int(0.5 * S), int(1.5 * S)) == pytest.approx(75.0)
    # Beyond the samples the power is held at the nearest one.
    assert gpuinfo.energy_j(s, int(2 * S), int(3 * S)) == pytest.approx(0.0)
    assert gpuinfo.energy_j(samples((0, 10), (1, 10)), -S, 2 * S) == pytest.approx(30.0)


def test_too_few_samples_is_unknown() -> None:
    assert gpuinfo.energy_j(samples((0, 100))) is None
    assert gpuinfo.energy_j([]) is None


def test_counter_energy_and_per_inference() -> None:
    s = [PowerSample(0, 1.0, energy_mj=5_000), PowerSample(S, 1.0, energy_mj=305_000)]
    assert gpuinfo.counter_energy_j(s) == 300.0
    assert gpuinfo.counter_energy_j(samples((0, 1), (1, 1))) is None
    assert gpuinfo.joules_per_inference(300.0, calls=100, batch=8) == pytest.approx(0.375)
    assert gpuinfo.joules_per_inference(None, calls=100) is None
    assert gpuinfo.joules_per_inference(1.0, calls=0) is None


def test_throttling_names_the_slowdowns_seen() -> None:
    s = [PowerSample(0, 1.0, events=0x1), PowerSample(1, 1.0, events=0x4 | 0x40)]
    assert gpuinfo.throttling(s) == ("sw_power_cap", "hw_thermal")
    assert gpuinfo.throttling([PowerSample(0, 1.0, events=0x1 | 0x2)]) == ()  # idle, app clocks


def test_reader_converts_units() -> None:
    nvml = fake_nvml()
    sample = gpuinfo.reader(nvml)(123)
    assert sample == PowerSample(123, 250.0, 1780, 0x4, 1_000_000)


def test_sampler_stamps_with_the_runner_clock_and_integrates() -> None:
    nvml = fake_nvml()
    ticks = iter(range(0, 100 * S, S // 10))  # a fake clock: +0.1 s per read
    sampler = PowerSampler(gpuinfo.reader(nvml), interval_s=0.001, clock=lambda: next(ticks))
    with sampler:
        while len(sampler._samples) < 3:
            pass
    taken = sampler.stop()
    assert sampler.error == ""
    assert len(taken) >= 4  # three, then one at the end
    assert [s.t_ns for s in taken] == [i * S // 10 for i in range(len(taken))]
    span = (len(taken) - 1) / 10
    assert gpuinfo.energy_j(taken) == pytest.approx(250.0 * span)


def test_sampler_keeps_what_it_read_when_the_driver_fails() -> None:
    calls = iter([PowerSample(0, 5.0)])

    def read(t: int) -> PowerSample:
        try:
            return next(calls)
        except StopIteration:
            raise NVMLError("GPU is lost") from None

    sampler = PowerSampler(read, interval_s=0.0, clock=lambda: 0).start()
    taken = sampler.stop()
    assert taken == (PowerSample(0, 5.0),)
    assert sampler.error == "NVMLError: GPU is lost"
