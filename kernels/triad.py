"""triad: STREAM triad a = b + s * c, the memory-bandwidth workload."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

PARAMS = (
    # 4 Mi elements: 48 MiB at float32, well past any last-level cache, a few ms per call.
    Param("n", 1 << 22, int, "elements", "length of each vector", minimum=1),
    Param("scalar", 3.0, float, "", "the scalar s in a = b + s * c"),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    b = rng.standard_normal((p["n"],)).astype(p["dtype"])
    c = rng.standard_normal((p["n"],)).astype(p["dtype"])
    return {"b": b, "c": c}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    # A Python float is a weak scalar (NEP 50), so the result keeps the inputs' dtype.
    return x["b"] + p["scalar"] * x["c"]


def reference(x: Arrays, p: Params) -> np.ndarray:
    return x["b"].astype(np.float64) + p["scalar"] * x["c"].astype(np.float64)


def build_onnx(p: Params) -> Any:
    dt, n = p["dtype"], p["n"]
    return onnx_graph.model(
        "triad",
        [
            onnx_graph.node("Mul", ["s", "c"], ["sc"]),
            onnx_graph.node("Add", ["b", "sc"], ["a"]),
        ],
        [onnx_graph.tensor_input("b", dt, [n]), onnx_graph.tensor_input("c", dt, [n])],
        [onnx_graph.tensor_input("a", dt, [n])],
        [onnx_graph.const("s", p["scalar"], dt)],
    )


def flops(p: Params) -> int:
    # one multiply and one add per element
    return 2 * p["n"]


def bytes_moved(p: Params) -> int:
    # read b and c, write a
    return 3 * p["n"] * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="triad",
    doc="STREAM triad a = b + s * c over n-element vectors",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=compute,
    build_onnx=build_onnx,
    work_param="n",
    bound="memory",
    measures_peak=True,
)
