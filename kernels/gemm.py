"""gemm: C = A @ B, the matrix-throughput workload."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

PARAMS = (
    Param("m", 512, int, "rows", "rows of A and C", minimum=1),
    Param("n", 512, int, "cols", "columns of B and C", minimum=1),
    Param("k", 512, int, "", "inner dimension", minimum=1),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    a = rng.standard_normal((p["m"], p["k"])).astype(p["dtype"])
    b = rng.standard_normal((p["k"], p["n"])).astype(p["dtype"])
    return {"a": a, "b": b}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    return xp.matmul(x["a"], x["b"])


def reference(x: Arrays, p: Params) -> np.ndarray:
    return x["a"].astype(np.float64) @ x["b"].astype(np.float64)


def build_onnx(p: Params) -> Any:
    dt = p["dtype"]
    return onnx_graph.model(
        "gemm",
        [onnx_graph.node("MatMul", ["a", "b"], ["c"])],
        [
            onnx_graph.tensor_input("a", dt, [p["m"], p["k"]]),
            onnx_graph.tensor_input("b", dt, [p["k"], p["n"]]),
        ],
        [onnx_graph.tensor_input("c", dt, [p["m"], p["n"]])],
    )


def flops(p: Params) -> int:
    return 2 * p["m"] * p["n"] * p["k"]


def bytes_moved(p: Params) -> int:
    item = np.dtype(p["dtype"]).itemsize
    return item * (p["m"] * p["k"] + p["k"] * p["n"] + p["m"] * p["n"])


# fp16 may accumulate in fp16 on some backends: its error grows with k, hence the loose bound.
TOLERANCE = {"float16": 3e-2, "float32": 1e-4, "float64": 1e-10}


SPEC = WorkloadSpec(
    name="gemm",
    doc="Dense matrix multiply C = A @ B (m x k times k x n)",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=compute,
    build_onnx=build_onnx,
    tolerance=TOLERANCE,
    work_param="m",
    bound="compute",
    measures_peak=True,
)
