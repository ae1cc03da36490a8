"""The CuPy backend: a workload's xp implementation run with xp = cupy on a CUDA device."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bench.backends.base import Availability, BackendInfo, Case, Prepared, resolve_options, rotating
from bench.core.errors import MissingExtra, UnsupportedCase
from bench.core.optional import require
from bench.core.workloads import Param


class CupyBackend:
    """Inputs are uploaded in prepare(); the timed call launches kernels; sync() fences them."""

    name: ClassVar[str] = "cupy"
    local: ClassVar[bool] = True
    options_spec: ClassVar[tuple[Param, ...]] = (
        Param("device_id", 0, int, "", "CUDA device ordinal", minimum=0),
    )

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = resolve_options(self.name, self.options_spec, options)
        self._cp: Any = None

    def _cupy(self) -> Any:
        if self._cp is None:
            self._cp = require("cupy", "cuda12")
        return self._cp

    def probe(self) -> Availability:
        try:
            cp = self._cupy()
            count = cp.cuda.runtime.getDeviceCount()
        except MissingExtra as exc:
            return Availability(False, str(exc))
        except Exception as exc:  # CUDARuntimeError and driver load failures: no usable device
            return Availability(False, f"no CUDA device usable by CuPy: {exc}")
        if self.options["device_id"] >= count:
            return Availability(False, f"device_id {self.options['device_id']} >= {count} devices")
        return Availability(True)

    def describe(self) -> BackendInfo:
        cp = self._cupy()
        dev = self.options["device_id"]
        props = cp.cuda.runtime.getDeviceProperties(dev)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        details = {
            "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
            "cuda_driver": cp.cuda.runtime.driverGetVersion(),
            "memory_bytes": props.get("totalGlobalMem"),
            "compute_capability": f"{props.get('major')}.{props.get('minor')}",
        }
        return BackendInfo(self.name, cp.__version__, name, details)

    def prepare(self, case: Case) -> Prepared:
        spec = case.workload
        if spec.compute is None:
            raise UnsupportedCase(f"workload '{spec.name}' has no array implementation for cupy")
        cp, params, compute = self._cupy(), case.params, spec.compute
        device = cp.cuda.Device(self.options["device_id"])
        with device:
            device_sets = tuple({k: cp.asarray(v) for k, v in x.items()} for x in case.input_sets)
            self.sync()
        # The timed calls launch on the current device: make it the inputs' one, once, here
        # (a context entered per call would add its cost to every sample).
        device.use()
        run = rotating(device_sets, lambda x: compute(cp, x, params))
        return Prepared(run=run, to_host=_to_host(cp), synchronous=False)

    def sync(self) -> None:
        self._cupy().cuda.Device(self.options["device_id"]).synchronize()

    def close(self) -> None:
        if self._cp is not None:
            self._cp.get_default_memory_pool().free_all_blocks()


def _to_host(cp: Any) -> Any:
    def to_host(out: Any) -> Any:
        if isinstance(out, tuple | list):
            return tuple(cp.asnumpy(o) for o in out)
        return cp.asnumpy(out)

    return to_host
