"""CuPy backend: its device-free logic against a fake `cupy` built on numpy, and a real gpu run."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from bench import backends as registry
from bench.backends.base import Case
from bench.backends.cupy_backend import CupyBackend
from bench.core import workloads
from bench.core.config import Planned
from bench.core.errors import ConfigError, UnsupportedCase
from bench.core.policy import Policy
from bench.runner.local import check, matched_inputs, run_case
from tests.conftest import skip_or_fail_gpu

# Small enough to run on the CPU in milliseconds; every workload with an array implementation.
SMALL = {
    "gemm": {"m": 16, "n": 12, "k": 8},
    "triad": {"n": 1000},
    "copy": {"n": 1000},
    "softmax": {"rows": 8, "cols": 16},
    "layernorm": {"rows": 8, "cols": 16},
    "attention": {"batch": 1, "heads": 2, "seq": 8, "head_dim": 4, "causal": True},
    "mlp": {"batch": 4, "d_in": 8, "d_hidden": 16, "d_out": 8},
    "conv2d": {"batch": 1, "in_channels": 2, "out_channels": 3, "height": 6, "width": 6},
    "decoder": {"kv_len": 8, "d_model": 32, "n_heads": 4, "n_kv_heads": 2, "d_ff": 48},
}
# Count-bound: no minimum time, so the sample count alone ends the run whatever the machine's load.
COUNTED = Policy(warmup_s=0.0, min_warmup_calls=1, min_samples=5, min_time_s=0.0, loops=4)


class DeviceArray(np.ndarray):
    """An array 'on the device': numpy keeps the subclass through ufuncs, so a result shows
    that it was computed from uploaded inputs, and asnumpy() is the only way back to the host."""


class CUDARuntimeError(RuntimeError):
    """What cupy raises when the driver or the runtime fails."""


class FakeCupy(types.ModuleType):
    """`cupy` as the backend uses it, on numpy; every upload, launch and fence is logged."""

    def __init__(self, devices: int = 1, error: Exception | None = None) -> None:
        super().__init__("cupy")
        self.__version__ = "13.9.0"
        self.events: list[tuple[str, int]] = []
        self.current, self.freed = -1, 0
        self.devices, self.error = devices, error
        self.cuda = types.SimpleNamespace(runtime=self._runtime(), Device=self._device)

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)  # the array API a kernel uses (xp.exp, xp.sum, ...)

    def _runtime(self) -> types.SimpleNamespace:
        def count() -> int:
            if self.error is not None:
                raise self.error
            return self.devices

        props = {"name": b"Fake H100", "totalGlobalMem": 80 << 30, "major": 9, "minor": 0}
        return types.SimpleNamespace(
            getDeviceCount=count,
            getDeviceProperties=lambda dev: {**props, "ordinal": dev},
            runtimeGetVersion=lambda: 12040,
            driverGetVersion=lambda: 12080,
        )

    def _device(self, ordinal: int) -> _Device:
        return _Device(self, ordinal)

    def asarray(self, value: Any) -> DeviceArray:
        self.events.append(("upload", self.current))
        return np.array(value).view(DeviceArray)  # a copy, as an upload is

    def asnumpy(self, value: Any) -> np.ndarray:
        assert isinstance(value, DeviceArray), type(value)  # only device arrays come back
        return np.asarray(value).view(np.ndarray)

    def matmul(self, *args: Any, **kwargs: Any) -> Any:
        self.events.append(("launch", self.current))
        return np.matmul(*args, **kwargs)

    def get_default_memory_pool(self) -> types.SimpleNamespace:
        return types.SimpleNamespace(free_all_blocks=self._free)

    def _free(self) -> None:
        self.freed += 1


class _Device:
    def __init__(self, cp: FakeCupy, ordinal: int) -> None:
        self.cp, self.ordinal, self.outer = cp, ordinal, -1

    def __enter__(self) -> _Device:
        self.outer, self.cp.current = self.cp.current, self.ordinal
        return self

    def __exit__(self, *exc: object) -> None:
        self.cp.current = self.outer

    def synchronize(self) -> None:
        self.cp.events.append(("sync", self.ordinal))

    def use(self) -> None:
        self.cp.current = self.ordinal


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCupy]:
    cp = FakeCupy(devices=2)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    yield cp


def _planned(backend: CupyBackend, workload: str, scenario: str = "latency") -> Planned:
    spec = workloads.get(workload)
    return Planned(spec, spec.resolve(SMALL[workload]), "cupy", backend.options, scenario)


def _case(p: Planned, sets: int = 1) -> Case:
    matched = matched_inputs(p, seed=0, count=sets)
    return Case(p.spec, p.params, "cupy", p.options, p.scenario, matched.input_sets)


# --- probe: every reason, never a raise ---


def test_probe_without_cupy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # import fails even where cupy is installed
    avail = CupyBackend().probe()
    assert not avail.ok
    assert avail.reason.startswith("cupy is not installed (")
    assert avail.reason.endswith("Install it with: pip install 'accelbench[cuda12]'")


def test_probe_turns_a_driver_error_into_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    error = CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy(error=error))
    avail = CupyBackend().probe()
    assert (avail.ok, avail.reason) == (
        False,
        "no CUDA device usable by CuPy: cudaErrorInsufficientDriver: CUDA driver version is insufficient",
    )


@pytest.mark.parametrize(
    ("devices", "device_id", "reason"),
    [(0, 0, "device_id 0 >= 0 devices"), (2, 2, "device_id 2 >= 2 devices"), (2, 1, "")],
)
def test_probe_checks_device_id_against_the_device_count(
    monkeypatch: pytest.MonkeyPatch, devices: int, device_id: int, reason: str
) -> None:
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy(devices=devices))
    avail = CupyBackend({"device_id": device_id}).probe()
    assert (avail.ok, avail.reason) == (not reason, reason)


# --- options ---


def test_device_id_defaults_to_zero_and_is_typed() -> None:
    assert dict(CupyBackend().options) == {"device_id": 0}
    assert CupyBackend({"device_id": "1"}).options["device_id"] == 1  # from `--backend-opt`


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device_id": -1}, "backend 'cupy': parameter 'device_id' = -1 is below its minimum 0"),
        ({"device_id": 1.5}, "backend 'cupy': parameter 'device_id' must be int >= 0, got 1.5"),
        (
            {"device": 0},
            "backend 'cupy' has unknown option 'device' (known: device_id);"
            " did you mean 'device_id'?",
        ),
    ],
)
def test_bad_options_fail_with_the_known_ones(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CupyBackend(options)
    assert str(info.value) == message


def test_the_registry_builds_it_without_importing_cupy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # any import of cupy would fail
    backend = registry.create("cupy", {"device_id": 1})
    assert isinstance(backend, CupyBackend) and backend.options["device_id"] == 1
    backend.close()  # nothing was loaded: nothing to free, and still no import


# --- describe, prepare, sync, close ---


def test_describe_reads_the_device_properties(fake: FakeCupy) -> None:
    info = CupyBackend({"device_id": 1}).describe()
    assert (info.name, info.version, info.device) == ("cupy", "13.9.0", "Fake H100")
    assert dict(info.details) == {
        "cuda_runtime": 12040,
        "cuda_driver": 12080,
        "memory_bytes": 80 << 30,
        "compute_capability": "9.0",
    }


@pytest.mark.parametrize("workload", sorted(SMALL))
def test_prepare_runs_the_workload_through_xp_and_matches_the_reference(
    fake: FakeCupy, workload: str
) -> None:
    backend = CupyBackend()
    p = _planned(backend, workload)
    matched = matched_inputs(p, seed=0, count=1)
    prepared = backend.prepare(_case(p))
    assert not prepared.synchronous  # device work is queued: the runner must fence it
    out = prepared.run()
    assert all(isinstance(o, DeviceArray) for o in (out if isinstance(out, tuple) else (out,)))
    host = workloads.as_outputs(prepared.to_host(out))
    assert all(type(h) is np.ndarray for h in host)
    error, tolerance = check(prepared, backend, matched, p)
    assert error <= tolerance == p.spec.tolerance_for("float32")


def test_inputs_are_uploaded_on_the_chosen_device_and_fenced(fake: FakeCupy) -> None:
    backend = CupyBackend({"device_id": 1})
    p = _planned(backend, "gemm")
    backend.prepare(_case(p, sets=3))
    # two arrays per input set, all uploaded inside Device(1), then one fence before timing
    assert fake.events == [("upload", 1)] * 6 + [("sync", 1)]
    assert fake.current == 1  # and the timed calls will launch there too


def test_calls_launch_on_the_chosen_device(fake: FakeCupy) -> None:
    backend = CupyBackend({"device_id": 1})
    p = _planned(backend, "gemm")
    fake.current = 0  # whatever was current before
    prepared = backend.prepare(_case(p))
    fake.events.clear()
    prepared.run()
    backend.sync()
    assert fake.events == [("launch", 1), ("sync", 1)]


def test_rotating_input_sets_give_each_sets_own_result(fake: FakeCupy) -> None:
    backend = CupyBackend()
    p = _planned(backend, "gemm")
    case = _case(p, sets=2)
    prepared = backend.prepare(case)
    first, second, third = (prepared.to_host(prepared.run()) for _ in range(3))
    a0, a1 = (s["a"] @ s["b"] for s in case.input_sets)  # the same float32 matmul, on the host
    np.testing.assert_array_equal(first, a0)
    np.testing.assert_array_equal(second, a1)
    np.testing.assert_array_equal(third, a0)  # back to set 0
    assert not np.array_equal(a0, a1)  # seeded apart: the sets really differ


def test_sync_fences_the_configured_device(fake: FakeCupy) -> None:
    CupyBackend({"device_id": 1}).sync()
    assert fake.events == [("sync", 1)]


def test_close_frees_the_memory_pool(fake: FakeCupy) -> None:
    backend = CupyBackend()
    backend.probe()
    backend.close()
    assert fake.freed == 1


def test_a_workload_without_an_array_implementation_is_unsupported(fake: FakeCupy) -> None:
    spec = workloads.get("onnx")
    case = Case(spec, MappingProxyType({}), "cupy", CupyBackend().options, "latency", ())
    with pytest.raises(UnsupportedCase) as info:
        CupyBackend().prepare(case)
    assert str(info.value) == "workload 'onnx' has no array implementation for cupy"
    assert fake.events == []  # refused before anything was uploaded


# --- through the runner: fenced per call for latency, per sample for throughput ---

LAUNCH, SYNC = ("launch", 0), ("sync", 0)


@pytest.mark.parametrize(
    ("scenario", "timed"),
    [
        # warm-up call, then 5 samples of 4 calls, every call fenced
        ("latency", [LAUNCH, SYNC] * (1 + 5 * 4)),
        # warm-up call fenced alone, then one fence after each sample of 4 queued calls
        ("throughput", [LAUNCH, SYNC] + ([LAUNCH] * 4 + [SYNC]) * 5),
    ],
)
def test_the_runner_fences_device_calls_as_the_scenario_says(
    fake: FakeCupy, scenario: str, timed: list[tuple[str, int]]
) -> None:
    backend = CupyBackend()
    p = _planned(backend, "gemm", scenario)
    r = run_case(backend, p, matched_inputs(p, seed=0, count=1), COUNTED)
    assert r.status == "ok", r.reason
    assert r.rel_error is not None and r.rel_error <= r.tolerance  # type: ignore[operator]
    assert (r.loops, len(r.sample_ns), r.warmup_calls) == (4, 5, 1)
    uploads, checked = [("upload", 0)] * 2 + [SYNC], [LAUNCH, SYNC]
    assert fake.events == uploads + checked + timed
    assert fake.freed == 0  # run_case leaves closing to its caller


# --- a real device ---


@pytest.mark.gpu
@pytest.mark.parametrize("scenario", ["latency", "throughput"])
def test_gemm_on_a_real_device_matches_the_reference(
    request: pytest.FixtureRequest, scenario: str
) -> None:
    backend = CupyBackend()
    avail = backend.probe()
    if not avail.ok:
        skip_or_fail_gpu(request.config, f"cupy: {avail.reason}")
    p = _planned(backend, "gemm", scenario)
    policy = Policy(warmup_s=0.01, min_samples=5, min_time_s=0.05, max_time_s=5.0)
    try:
        r = run_case(backend, p, matched_inputs(p, seed=0, count=2), policy)
    finally:
        backend.close()
    assert r.status == "ok", r.reason
    assert r.rel_error is not None and r.rel_error <= r.tolerance  # type: ignore[operator]
    assert r.stats is not None and r.stats == r.recomputed_stats()
