"""The backend registry: entry points, lazy listing, contract checks, probes that say why not."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench import backends as registry
from bench.backends.base import Availability, Backend, BackendInfo, Case, Prepared
from bench.backends.null import NullBackend
from bench.core import workloads
from bench.core.config import Planned
from bench.core.errors import BackendError, ConfigError
from bench.core.policy import Policy
from bench.runner.local import matched_inputs, run_case

BUILT_IN = ["null", "numpy", "onnxruntime", "onnxruntime-cuda", "onnxruntime-tensorrt"]
BACKEND_MODULES = (
    "bench.backends.null",
    "bench.backends.numpy_backend",
    "bench.backends.onnxruntime_backend",
    "onnxruntime",
)


def test_names_lists_the_built_in_backends() -> None:
    names = registry.names()
    assert names == sorted(names)
    assert set(BUILT_IN) <= set(names)


def test_names_imports_no_backend_module() -> None:
    # A fresh interpreter: this process may already have imported the backends.
    code = (
        "import json, sys\n"
        "from bench import backends\n"
        "names = backends.names()\n"
        f"print(json.dumps([names, [m for m in {BACKEND_MODULES!r} if m in sys.modules]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    names, imported = json.loads(out.stdout)
    assert set(BUILT_IN) <= set(names)
    assert imported == []


def test_load_returns_the_registered_class() -> None:
    assert registry.load("null") is NullBackend
    cls = registry.load("numpy")
    assert cls.__name__ == "NumpyBackend"
    assert cls.name == "numpy"


def test_load_unknown_name_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        registry.load("numpyy")
    message = str(err.value)
    assert message.startswith("unknown backend 'numpyy' (known: ")
    for name in BUILT_IN:
        assert name in message


class Broken:
    """Has no sync/close and the wrong name: the registry must refuse it."""

    name: ClassVar[str] = "other"

    def probe(self) -> Availability:
        return Availability(True)

    def describe(self) -> BackendInfo:
        return BackendInfo("other", "0", "none")

    def prepare(self, case: Case) -> Prepared:
        raise NotImplementedError


def _with_entry(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    real = registry._entry_points()
    extra = EntryPoint(name=name, value=value, group=registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {**real, name: extra})


def test_load_refuses_a_class_that_breaks_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry(monkeypatch, "broken", f"{__name__}:Broken")
    assert "broken" in registry.names()
    with pytest.raises(BackendError) as err:
        registry.load("broken")
    message = str(err.value)
    assert "backend 'broken'" in message and "breaks the contract" in message
    assert "'sync'" in message and "'close'" in message
    assert "name 'other'" in message


def test_load_wraps_an_import_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry(monkeypatch, "ghost", "bench.backends.no_such_module:Ghost")
    with pytest.raises(BackendError, match=r"backend 'ghost' failed to import: .*no_such_module"):
        registry.load("ghost")


def test_create_validates_options() -> None:
    backend = registry.create("numpy", {"threads": "2"})
    assert dict(backend.options) == {"threads": 2}
    assert dict(registry.create("numpy").options) == {"threads": 0}


def test_create_rejects_an_unknown_option_naming_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        registry.create("numpy", {"thread": 1})
    assert str(err.value) == (
        "backend 'numpy' has unknown option 'thread' (known: threads); did you mean 'threads'?"
    )
    with pytest.raises(ConfigError) as err:
        registry.create("onnxruntime", {"intra_threads": 1})
    message = str(err.value)
    assert message.startswith("backend 'onnxruntime' has unknown option 'intra_threads' (known: ")
    assert "intra_op_threads" in message and "providers" in message
    with pytest.raises(ConfigError) as err:
        registry.create("null", {"x": 1})
    assert str(err.value) == "backend 'null' has unknown option 'x' (known: none)"


def test_create_rejects_a_bad_option_value() -> None:
    with pytest.raises(ConfigError, match=r"'threads' = -1 is below its minimum 0"):
        registry.create("numpy", {"threads": -1})
    with pytest.raises(ConfigError, match=r"'graph_optimization' = 'max' \(choose from: "):
        registry.create("onnxruntime", {"graph_optimization": "max"})


@pytest.mark.parametrize(
    ("name", "providers"),
    [
        ("onnxruntime-cuda", ["CUDAExecutionProvider"]),
        ("onnxruntime-tensorrt", ["TensorrtExecutionProvider", "CUDAExecutionProvider"]),
    ],
)
def test_gpu_provider_probe_says_why_not(name: str, providers: list[str]) -> None:
    import onnxruntime

    if set(providers) <= set(onnxruntime.get_available_providers()):
        pytest.skip(f"this onnxruntime build has {providers}: nothing to refuse")
    avail = registry.create(name).probe()
    assert avail.ok is False
    assert providers[0] in avail.reason
    assert "not in this onnxruntime build" in avail.reason
    assert "pip install 'accelbench[onnx-gpu]'" in avail.reason


def test_cpu_backends_probe_ok() -> None:
    for name in ("null", "numpy", "onnxruntime"):
        assert registry.create(name).probe() == Availability(True, "")


def test_describe_names_versions_and_device() -> None:
    import numpy
    import onnxruntime

    info = registry.create("numpy").describe()
    assert (info.name, info.version, info.device) == ("numpy", numpy.__version__, "cpu")
    assert isinstance(info.details["blas"], list)
    info = registry.create("onnxruntime").describe()
    assert (info.name, info.version, info.device) == ("onnxruntime", onnxruntime.__version__, "cpu")
    assert info.details["providers"] == ["CPUExecutionProvider"]


# --- the null backend ---


def test_null_backend_satisfies_the_contract() -> None:
    backend = NullBackend()
    assert isinstance(backend, Backend)
    assert NullBackend.name == "null"
    assert NullBackend.options_spec == ()
    assert backend.probe() == Availability(True, "")
    assert backend.describe() == BackendInfo("null", "0", "none")
    assert backend.sync() is None
    assert backend.close() is None


def test_null_backend_returns_the_reference_and_runs_through_the_runner() -> None:
    spec = workloads.get("gemm")
    p = Planned(spec, spec.resolve({"m": 4, "n": 3, "k": 2}), "null", {}, "latency")
    matched = matched_inputs(p, seed=0, count=1)
    backend = NullBackend()
    case = Case(spec, p.params, "null", backend.options, "latency", matched.input_sets)
    prepared = backend.prepare(case)
    assert prepared.run() is None
    out: Any = prepared.to_host(prepared.run())
    assert out is matched.reference or (out == matched.reference).all()
    policy = Policy(warmup_s=0.0, min_samples=5, min_time_s=0.005, max_time_s=1.0)
    result = run_case(backend, p, matched, policy)
    assert result.status == "ok", result.reason
    assert result.rel_error == 0.0
    assert result.backend == "null"
    assert result.loops >= 1 and result.loops & (result.loops - 1) == 0  # a power of two
    assert len(result.sample_ns) >= 5
    assert result.stats is not None and result.stats.n == len(result.sample_ns)
