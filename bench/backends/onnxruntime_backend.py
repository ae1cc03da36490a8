"""The ONNX Runtime backend: a workload's ONNX graph in an InferenceSession, providers from options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from bench.backends.base import Availability, BackendInfo, Case, Prepared, resolve_options, rotating
from bench.core import digest
from bench.core.errors import BackendError, ConfigError, MissingExtra, UnsupportedCase
from bench.core.optional import require
from bench.core.workloads import Param

_OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}
_DEVICE_OF = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "cuda"}
# Error floors where a provider's kernels round unlike the CPU reference: CUDA may use TF32
# and picks cuDNN algorithms by speed; TensorRT also fuses layers and reorders reductions.
_PROVIDER_TOLERANCE = {"CUDAExecutionProvider": 1e-2, "TensorrtExecutionProvider": 2e-2}


def provider_tolerance(providers: list[str]) -> float | None:
    """The looser error bound the first provider that actually runs needs, if any."""
    return _PROVIDER_TOLERANCE.get(providers[0]) if providers else None


def model_details(model: Any, case: Case) -> dict[str, Any]:
    """Digests that pin a bring-your-own model and the inputs fed to it."""
    if not isinstance(model, str):
        return {}  # a graph the workload built from its params: the params already pin it
    return {
        "model_sha256": digest.model_sha256(model),
        "inputs_sha256": digest.arrays_sha256(case.input_sets),
    }


class OnnxRuntimeBackend:
    """Runs on the providers named in its options (CPU by default); threads and level set too."""

    name: ClassVar[str] = "onnxruntime"
    local: ClassVar[bool] = True
    default_providers: ClassVar[str] = "CPUExecutionProvider"
    options_spec: ClassVar[tuple[Param, ...]] = (
        Param("providers", "", str, "", "comma-separated execution providers, in priority order"),
        Param("intra_op_threads", 0, int, "", "threads inside an op (0 = ORT default)", minimum=0),
        Param("inter_op_threads", 0, int, "", "threads across ops (0 = ORT default)", minimum=0),
        Param("graph_optimization", "all", str, "", "graph level", choices=tuple(_OPT_LEVELS)),
        Param("device_id", 0, int, "", "GPU ordinal for device providers", minimum=0),
    )

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = resolve_options(self.name, self.options_spec, options)
        self.providers = [
            p.strip() for p in (self.options["providers"] or self.default_providers).split(",")
        ]
        self._bindings: list[Any] = []

    def probe(self) -> Availability:
        try:
            ort = require("onnxruntime", "onnx-gpu")
        except MissingExtra as exc:
            return Availability(False, str(exc))
        available = ort.get_available_providers()
        missing = [p for p in self.providers if p not in available]
        if missing:
            return Availability(
                False,
                f"{', '.join(missing)} not in this onnxruntime build (has: {', '.join(available)});"
                " for CUDA/TensorRT install it with: pip install 'accelbench[onnx-gpu]'",
            )
        return Availability(True)

    def describe(self) -> BackendInfo:
        import onnxruntime as ort

        device = _DEVICE_OF.get(self.providers[0], "cpu")
        details = {"providers": self.providers, "available": ort.get_available_providers()}
        return BackendInfo(self.name, ort.__version__, device, details)

    def _session(self, model: Any) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.options["intra_op_threads"]
        so.inter_op_num_threads = self.options["inter_op_threads"]
        level = _OPT_LEVELS[self.options["graph_optimization"]]
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        source = model if isinstance(model, str) else model.SerializeToString()
        providers: list[Any] = [
            (p, {"device_id": self.options["device_id"]}) if p in _DEVICE_OF else p
            for p in self.providers
        ]
        try:
            return ort.InferenceSession(source, sess_options=so, providers=providers)
        except Exception as exc:  # ORT's Fail/InvalidGraph/NotImplemented derive from Exception
            raise BackendError(f"onnxruntime could not load the graph: {exc}") from exc

    def prepare(self, case: Case) -> Prepared:
        spec = case.workload
        if spec.build_onnx is None:
            raise UnsupportedCase(f"workload '{spec.name}' has no ONNX graph")
        model = spec.build_onnx(case.params)
        sess = self._session(model)
        names = [i.name for i in sess.get_inputs()]
        missing = [n for n in names if n not in case.input_sets[0]]
        if missing:
            raise ConfigError(
                f"graph inputs {missing} have no data (have: {list(case.input_sets[0])})"
            )
        so = sess.get_session_options()
        threads = {"intra_op": so.intra_op_num_threads, "inter_op": so.inter_op_num_threads}
        details = {"providers": sess.get_providers(), **model_details(model, case)}
        tolerance = provider_tolerance(sess.get_providers())
        if tolerance is not None:
            details["tolerance_floor"] = tolerance
        if _DEVICE_OF.get(self.providers[0]) is None:
            feeds = tuple({n: x[n] for n in names} for x in case.input_sets)
            run = rotating(feeds, lambda f: sess.run(None, f))
            return Prepared(
                run=run, to_host=lambda out: out, threads=threads, details=details,
                tolerance=tolerance,
            )  # fmt: skip
        return self._prepare_bound(sess, names, case, threads, details, tolerance)

    def _prepare_bound(
        self, sess: Any, names: list[str], case: Case, threads: Any, details: Any,
        tolerance: float | None,
    ) -> Prepared:  # fmt: skip
        """Device providers: inputs uploaded once and bound, so the timed call moves no data."""
        import onnxruntime as ort

        device, dev_id = _DEVICE_OF[self.providers[0]], self.options["device_id"]
        bindings = []
        for x in case.input_sets:
            binding = sess.io_binding()
            for n in names:
                value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x[n]), device, dev_id)
                binding.bind_ortvalue_input(n, value)
            for out in sess.get_outputs():
                binding.bind_output(out.name, device, dev_id)
            bindings.append(binding)
        self._bindings = bindings
        run = rotating(tuple(bindings), lambda b: (sess.run_with_iobinding(b), b)[1])
        return Prepared(
            run=run,
            to_host=lambda b: b.copy_outputs_to_cpu(),
            synchronous=False,
            threads=threads,
            details=details,
            tolerance=tolerance,
        )

    def sync(self) -> None:
        for binding in self._bindings:
            binding.synchronize_outputs()

    def close(self) -> None:
        self._bindings = []


class OnnxRuntimeCudaBackend(OnnxRuntimeBackend):
    name: ClassVar[str] = "onnxruntime-cuda"
    default_providers: ClassVar[str] = "CUDAExecutionProvider,CPUExecutionProvider"


class OnnxRuntimeTensorrtBackend(OnnxRuntimeBackend):
    name: ClassVar[str] = "onnxruntime-tensorrt"
    default_providers: ClassVar[str] = (
        "TensorrtExecutionProvider,CUDAExecutionProvider,CPUExecutionProvider"
    )
