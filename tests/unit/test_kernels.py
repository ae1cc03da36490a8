"""Local kernels: numpy compute and ONNX graph against the float64 reference, counts, inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime
import pytest
from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as OrtNotImplemented

from bench.claims.ceilings import ceiling_kind
from bench.core.errors import ConfigError
from bench.core.workloads import DTYPES, WorkloadSpec, get, relative_error, seeded_inputs

# (case id, workload, small params); attention runs both with and without the causal mask.
SMALL: list[tuple[str, str, dict[str, Any]]] = [
    ("gemm", "gemm", {"m": 5, "n": 6, "k": 7}),
    ("triad", "triad", {"n": 37}),
    ("copy", "copy", {"n": 37}),
    ("softmax", "softmax", {"rows": 5, "cols": 7}),
    ("layernorm", "layernorm", {"rows": 5, "cols": 8}),
    ("attention", "attention", {"batch": 2, "heads": 2, "seq": 5, "head_dim": 4}),
    (
        "attention-causal",
        "attention",
        {"batch": 2, "heads": 2, "seq": 5, "head_dim": 4, "causal": True},
    ),
    ("mlp", "mlp", {"batch": 3, "d_in": 8, "d_hidden": 16, "d_out": 5}),
    (
        "conv2d",
        "conv2d",
        {"batch": 2, "in_channels": 3, "out_channels": 4, "height": 5, "width": 6},
    ),
]
WORKLOADS = sorted({name for _, name, _ in SMALL})
CASES = [
    pytest.param(name, {**params, "dtype": dtype}, id=f"{case}-{dtype}")
    for case, name, params in SMALL
    for dtype in DTYPES
]

# ORT's CPU provider has no kernel for these (workload, dtype) pairs; any other gap is a failure.
ORT_CPU_UNSUPPORTED = {("conv2d", "float64")}


def _resolve(name: str, overrides: dict[str, Any]) -> tuple[WorkloadSpec, Any]:
    spec = get(name)
    return spec, spec.resolve(overrides)


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_numpy_compute_matches_reference(name: str, overrides: dict[str, Any]) -> None:
    spec, p = _resolve(name, overrides)
    assert spec.compute is not None
    x = seeded_inputs(spec, p, seed=0)
    out = spec.compute(np, x, p)
    assert np.asarray(out).dtype == np.dtype(p["dtype"])
    assert relative_error(out, spec.reference(x, p)) <= spec.tolerance_for(p["dtype"])


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_onnx_graph_matches_reference(name: str, overrides: dict[str, Any]) -> None:
    spec, p = _resolve(name, overrides)
    assert spec.build_onnx is not None
    x = seeded_inputs(spec, p, seed=0)
    model = spec.build_onnx(p)
    # copy's destination buffer is an input of the array code only (ONNX allocates its output).
    destinations = {"copy": ["a"]}.get(spec.name, [])
    assert [i.name for i in model.graph.input] == [k for k in x if k not in destinations]
    assert len(model.graph.output) == 1
    try:
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
    except OrtNotImplemented as exc:
        if (name, p["dtype"]) not in ORT_CPU_UNSUPPORTED:
            raise
        pytest.skip(f"onnxruntime CPU has no {p['dtype']} kernel for {name}: {exc}")
    (out,) = session.run(None, {k: v for k, v in x.items() if k not in destinations})
    assert out.dtype == np.dtype(p["dtype"])
    assert relative_error(out, spec.reference(x, p)) <= spec.tolerance_for(p["dtype"])


# Hand counts; each comment spells out the arithmetic behind the literal.
COUNTS = [
    # 2*m*n*k = 2*2*3*4 = 48; 4 B * (2*4 + 4*3 + 2*3) = 104
    ("gemm", {"m": 2, "n": 3, "k": 4, "dtype": "float32"}, 48, 104),
    # 2n = 20; 3 vectors * 10 * 4 B = 120
    ("triad", {"n": 10, "dtype": "float32"}, 20, 120),
    # same at float16: 3 * 10 * 2 B = 60
    ("triad", {"n": 10, "dtype": "float16"}, 20, 60),
    # copy does no arithmetic (None, not 0); read b + write a: 2 * 10 * 4 B = 80
    ("copy", {"n": 10, "dtype": "float32"}, None, 80),
    # 5 per element * 6 = 30; (x + y) 2 * 6 * 4 B = 48
    ("softmax", {"rows": 2, "cols": 3, "dtype": "float32"}, 30, 48),
    # 7*6 + 4*2 rows = 50; (x, y: 2*6) + (gamma, beta: 2*3) = 18 * 4 B = 72
    ("layernorm", {"rows": 2, "cols": 3, "dtype": "float32"}, 50, 72),
    # 4*1*2*3*3*4 = 288 matmul + 6*1*2*3*3 = 108 scale/softmax -> 396; q,k,v,out 4*24*4 B = 384
    ("attention", {"batch": 1, "heads": 2, "seq": 3, "head_dim": 4, "dtype": "float32"}, 396, 384),
    # causal counts the full square too
    (
        "attention",
        {"batch": 1, "heads": 2, "seq": 3, "head_dim": 4, "causal": True, "dtype": "float32"},
        396,
        384,
    ),
    # 2*2*(3*4 + 4*5) = 128 + 10*2*4 = 80 + 2*5 = 10 -> 218;
    # x 6 + w1 12 + b1 4 + w2 20 + b2 5 + y 10 = 57 elements * 4 B = 228
    ("mlp", {"batch": 2, "d_in": 3, "d_hidden": 4, "d_out": 5, "dtype": "float32"}, 218, 228),
    # 60 outputs (1*3*4*5) * (2*2*9 + 1) = 2220; x 40 + w 54 + b 3 + y 60 = 157 * 8 B = 1256
    (
        "conv2d",
        {
            "batch": 1,
            "in_channels": 2,
            "out_channels": 3,
            "height": 4,
            "width": 5,
            "dtype": "float64",
        },
        2220,
        1256,
    ),
]


@pytest.mark.parametrize(("name", "overrides", "want_flops", "want_bytes"), COUNTS)
def test_flops_and_bytes_match_hand_counts(
    name: str, overrides: dict[str, Any], want_flops: int, want_bytes: int
) -> None:
    spec, p = _resolve(name, overrides)
    assert spec.flops(p) == want_flops
    assert spec.bytes_moved(p) == want_bytes


@pytest.mark.parametrize(("name", "overrides"), CASES)
def test_inputs_are_seeded_and_not_zero(name: str, overrides: dict[str, Any]) -> None:
    spec, p = _resolve(name, overrides)
    first, again = seeded_inputs(spec, p, seed=3), seeded_inputs(spec, p, seed=3)
    other = seeded_inputs(spec, p, seed=4)
    assert list(first) == list(again)
    for key, arr in first.items():
        assert arr.dtype == np.dtype(p["dtype"])
        assert np.all(np.isfinite(arr))
        # most entries non-zero, not merely one
        assert np.count_nonzero(arr) > arr.size // 2
        np.testing.assert_array_equal(arr, again[key])
        assert not np.array_equal(arr, other[key])


@pytest.mark.parametrize("name", WORKLOADS)
def test_invalid_params_raise_config_error(name: str) -> None:
    spec = get(name)
    size = next(p.name for p in spec.params if p.kind is int)
    with pytest.raises(ConfigError, match=size):
        spec.resolve({size: -1})
    with pytest.raises(ConfigError, match="dtype"):
        spec.resolve({"dtype": "float8"})
    with pytest.raises(ConfigError, match="szie"):
        spec.resolve({"szie": 4})


@pytest.mark.parametrize("name", WORKLOADS)
def test_spec_shape(name: str) -> None:
    spec = get(name)
    assert spec.name == name
    names = [p.name for p in spec.params]
    assert "dtype" in names
    if spec.batch_param is not None:
        assert spec.batch_param in names


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_work_parameter_scales_the_work_linearly(name: str) -> None:
    spec = get(name)
    if spec.work_param is None:
        pytest.skip(f"{name} declares no work parameter")
    p = spec.resolve()
    twice = spec.resolve({spec.work_param: 2 * p[spec.work_param]})
    flops = spec.flops(p)
    if flops is not None:
        assert spec.flops(twice) == 2 * flops
    else:
        assert spec.bytes_moved(twice) == 2 * spec.bytes_moved(p)


@pytest.mark.parametrize("name", WORKLOADS)
def test_the_declared_bound_matches_the_default_intensity(name: str) -> None:
    spec = get(name)
    assert spec.bound in ("compute", "memory")
    p = spec.resolve()
    flops = spec.flops(p)
    intensity = flops / spec.bytes_moved(p) if flops is not None else 0.0
    # every machine's ridge lies between these: CPUs ~5-20 FLOP/byte, GPUs ~50-300
    assert (spec.bound == "compute") == (intensity > 10), (name, intensity)


def test_only_the_calibration_kernels_measure_a_peak() -> None:
    peaks = {name: get(name).bound for name in WORKLOADS if get(name).measures_peak}
    assert peaks == {"gemm": "compute", "copy": "memory", "triad": "memory"}
    assert [ceiling_kind(n) for n in ("gemm", "copy", "triad", "softmax", "chat")] == [
        "matrix",
        "memory",
        "memory",
        None,
        None,
    ]


def test_causal_attention_first_query_sees_only_first_key() -> None:
    spec, p = _resolve("attention", {"batch": 1, "heads": 2, "seq": 4, "head_dim": 3, "causal": 1})
    x = seeded_inputs(spec, p, seed=0)
    assert spec.compute is not None
    out = spec.compute(np, x, p)
    np.testing.assert_allclose(out[:, :, 0, :], x["v"][:, :, 0, :], rtol=1e-6)


def test_softmax_rows_sum_to_one() -> None:
    spec, p = _resolve("softmax", {"rows": 3, "cols": 50, "dtype": "float64"})
    assert spec.compute is not None
    out = spec.compute(np, seeded_inputs(spec, p, seed=0), p)
    np.testing.assert_allclose(out.sum(axis=-1), np.ones(3), rtol=1e-12)
    assert np.all(out > 0)
