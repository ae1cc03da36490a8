"""layernorm: LayerNorm over the last axis with learned scale (gamma) and shift (beta)."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

EPS = 1e-5

PARAMS = (
    Param("rows", 1024, int, "rows", "independent rows (the batch dimension)", minimum=1),
    Param("cols", 1024, int, "cols", "normalised length of each row", minimum=1),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    dt, rows, cols = p["dtype"], p["rows"], p["cols"]
    # a non-zero mean and non-unit spread, so both the centring and the scaling are exercised
    x = 2.0 + 3.0 * rng.standard_normal((rows, cols))
    gamma = 1.0 + 0.1 * rng.standard_normal((cols,))
    beta = 0.1 * rng.standard_normal((cols,))
    return {"x": x.astype(dt), "gamma": gamma.astype(dt), "beta": beta.astype(dt)}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    v = x["x"]
    d = v - xp.mean(v, axis=-1, keepdims=True)
    var = xp.mean(d * d, axis=-1, keepdims=True)
    return d / xp.sqrt(var + EPS) * x["gamma"] + x["beta"]


def reference(x: Arrays, p: Params) -> np.ndarray:
    v = x["x"].astype(np.float64)
    d = v - v.mean(axis=-1, keepdims=True)
    var = (d * d).mean(axis=-1, keepdims=True)
    return d / np.sqrt(var + EPS) * x["gamma"].astype(np.float64) + x["beta"].astype(np.float64)


def build_onnx(p: Params) -> Any:
    dt, rows, cols = p["dtype"], p["rows"], p["cols"]
    # by the spec stash_type sets the mean/variance precision; float64 input asks for float64 so
    # no runtime may compute them in float32 (ORT CPU 1.31 uses double either way)
    stash = onnx_graph.elem_type("float64" if dt == "float64" else "float32")
    node = onnx_graph.node(
        "LayerNormalization", ["x", "gamma", "beta"], ["y"], axis=-1, epsilon=EPS, stash_type=stash
    )
    return onnx_graph.model(
        "layernorm",
        [node],
        [
            onnx_graph.tensor_input("x", dt, [rows, cols]),
            onnx_graph.tensor_input("gamma", dt, [cols]),
            onnx_graph.tensor_input("beta", dt, [cols]),
        ],
        [onnx_graph.tensor_input("y", dt, [rows, cols])],
    )


def flops(p: Params) -> int:
    # per element: mean add, subtract, square, variance add, divide, gamma multiply, beta add = 7;
    # per row: two mean divisions, eps add, sqrt = 4
    return 7 * p["rows"] * p["cols"] + 4 * p["rows"]


def bytes_moved(p: Params) -> int:
    # read x, gamma, beta; write y
    return (2 * p["rows"] * p["cols"] + 2 * p["cols"]) * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="layernorm",
    doc=f"LayerNorm over the last axis of a rows x cols matrix (eps {EPS}, gamma and beta)",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=compute,
    build_onnx=build_onnx,
    batch_param="rows",
    work_param="rows",
    bound="memory",
)
