"""ONNX Runtime on CUDA and TensorRT: gemm checked against the reference, or skipped with the reason."""

from __future__ import annotations

import pytest

from bench import backends as registry
from bench.core import workloads
from bench.core.config import Planned
from bench.core.policy import Policy
from bench.runner.local import matched_inputs, run_case
from tests.conftest import skip_or_fail_gpu

pytestmark = pytest.mark.gpu

SHORT = Policy(warmup_s=0.01, min_samples=5, min_time_s=0.05, max_time_s=5.0)
FIRST_PROVIDER = {
    "onnxruntime-cuda": "CUDAExecutionProvider",
    "onnxruntime-tensorrt": "TensorrtExecutionProvider",
}


@pytest.mark.parametrize("name", sorted(FIRST_PROVIDER))
@pytest.mark.parametrize("scenario", ["latency", "throughput"])
def test_gemm_on_the_device_matches_the_reference(
    request: pytest.FixtureRequest, name: str, scenario: str
) -> None:
    backend = registry.create(name)
    avail = backend.probe()
    if not avail.ok:
        skip_or_fail_gpu(request.config, f"{name}: {avail.reason}")
    spec = workloads.get("gemm")
    p = Planned(spec, spec.resolve({"m": 64, "n": 64, "k": 64}), name, backend.options, scenario)
    try:
        r = run_case(backend, p, matched_inputs(p, seed=0, count=2), SHORT)
    finally:
        backend.close()
    assert r.status == "ok", r.reason
    assert r.rel_error is not None and r.rel_error <= r.tolerance  # type: ignore[operator]
    assert r.details["providers"][0] == FIRST_PROVIDER[name]
    assert r.loops >= 1 and len(r.sample_ns) >= 5
    assert r.stats is not None and r.stats == r.recomputed_stats()
    assert r.gflops_per_s == pytest.approx(r.flops / r.stats.median_s / 1e9, rel=1e-12)  # type: ignore[operator]
