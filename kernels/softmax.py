"""softmax: numerically stable softmax over the last axis of a rows x cols matrix."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

PARAMS = (
    Param("rows", 1024, int, "rows", "independent rows (the batch dimension)", minimum=1),
    Param("cols", 1024, int, "cols", "length of each row", minimum=1),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    # scaled so exp() spans several orders of magnitude and the max subtraction matters
    x = 4.0 * rng.standard_normal((p["rows"], p["cols"]))
    return {"x": x.astype(p["dtype"])}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    v = x["x"]
    # subtracting the row max keeps exp() from overflowing; the result is unchanged
    e = xp.exp(v - xp.max(v, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


def reference(x: Arrays, p: Params) -> np.ndarray:
    v = x["x"].astype(np.float64)
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def build_onnx(p: Params) -> Any:
    dt, shape = p["dtype"], [p["rows"], p["cols"]]
    return onnx_graph.model(
        "softmax",
        [onnx_graph.node("Softmax", ["x"], ["y"], axis=-1)],
        [onnx_graph.tensor_input("x", dt, shape)],
        [onnx_graph.tensor_input("y", dt, shape)],
    )


def flops(p: Params) -> int:
    # per element: max compare, subtract, exp, sum add, divide = 5
    return 5 * p["rows"] * p["cols"]


def bytes_moved(p: Params) -> int:
    # read x, write y
    return 2 * p["rows"] * p["cols"] * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="softmax",
    doc="Row softmax of a rows x cols matrix (max-subtracted, numerically stable)",
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
