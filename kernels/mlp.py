"""mlp: two dense layers with a tanh-approximated GELU between, y = gelu(x W1 + b1) W2 + b2."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

# the tanh form, not erf: numpy, cupy and opset-18 ONNX all express it with primitive ops
GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715

PARAMS = (
    Param("batch", 64, int, "rows", "input rows", minimum=1),
    Param("d_in", 512, int, "", "input width", minimum=1),
    Param("d_hidden", 2048, int, "", "hidden width", minimum=1),
    Param("d_out", 512, int, "", "output width", minimum=1),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    b, d_in, d_h, d_out = p["batch"], p["d_in"], p["d_hidden"], p["d_out"]
    # 1/sqrt(fan_in) scaling keeps activations near unit size, so fp16 neither overflows
    # nor saturates tanh everywhere
    arrays = {
        "x": rng.standard_normal((b, d_in)),
        "w1": rng.standard_normal((d_in, d_h)) / math.sqrt(d_in),
        "b1": 0.1 * rng.standard_normal((d_h,)),
        "w2": rng.standard_normal((d_h, d_out)) / math.sqrt(d_h),
        "b2": 0.1 * rng.standard_normal((d_out,)),
    }
    return {name: a.astype(p["dtype"]) for name, a in arrays.items()}


def _gelu(xp: ModuleType, h: Any) -> Any:
    return 0.5 * h * (1.0 + xp.tanh(GELU_C * (h + GELU_A * h * h * h)))


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    h = _gelu(xp, xp.matmul(x["x"], x["w1"]) + x["b1"])
    return xp.matmul(h, x["w2"]) + x["b2"]


def reference(x: Arrays, p: Params) -> np.ndarray:
    f = {name: a.astype(np.float64) for name, a in x.items()}
    return _gelu(np, f["x"] @ f["w1"] + f["b1"]) @ f["w2"] + f["b2"]


def _gelu_nodes(src: str, dst: str) -> list[onnx.NodeProto]:
    """GELU (tanh form) from Mul/Add/Tanh: Gelu itself needs opset 20."""
    return [
        onnx_graph.node("Mul", [src, src], ["g_sq"]),
        onnx_graph.node("Mul", ["g_sq", src], ["g_cube"]),
        onnx_graph.node("Mul", ["g_cube", "gelu_a"], ["g_acube"]),
        onnx_graph.node("Add", [src, "g_acube"], ["g_inner"]),
        onnx_graph.node("Mul", ["g_inner", "gelu_c"], ["g_arg"]),
        onnx_graph.node("Tanh", ["g_arg"], ["g_tanh"]),
        onnx_graph.node("Add", ["g_tanh", "one"], ["g_onep"]),
        onnx_graph.node("Mul", [src, "g_onep"], ["g_xonep"]),
        onnx_graph.node("Mul", ["g_xonep", "half"], [dst]),
    ]


def build_onnx(p: Params) -> Any:
    dt, b, d_in, d_h, d_out = p["dtype"], p["batch"], p["d_in"], p["d_hidden"], p["d_out"]
    nodes = [
        onnx_graph.node("MatMul", ["x", "w1"], ["xw1"]),
        onnx_graph.node("Add", ["xw1", "b1"], ["pre"]),
        *_gelu_nodes("pre", "hidden"),
        onnx_graph.node("MatMul", ["hidden", "w2"], ["hw2"]),
        onnx_graph.node("Add", ["hw2", "b2"], ["y"]),
    ]
    shapes = {"x": [b, d_in], "w1": [d_in, d_h], "b1": [d_h], "w2": [d_h, d_out], "b2": [d_out]}
    inputs = [onnx_graph.tensor_input(name, dt, shape) for name, shape in shapes.items()]
    consts = [
        onnx_graph.const(name, value, dt)
        for name, value in (("gelu_a", GELU_A), ("gelu_c", GELU_C), ("one", 1.0), ("half", 0.5))
    ]
    outputs = [onnx_graph.tensor_input("y", dt, [b, d_out])]
    return onnx_graph.model("mlp", nodes, inputs, outputs, consts)


def flops(p: Params) -> int:
    # matmuls 2*b*(d_in*d_h + d_h*d_out); per hidden element: bias add + 9 for GELU
    # (square, cube, *a, +h, *c, tanh, +1, *h, *0.5); per output element: bias add
    b, d_in, d_h, d_out = p["batch"], p["d_in"], p["d_hidden"], p["d_out"]
    return 2 * b * (d_in * d_h + d_h * d_out) + 10 * b * d_h + b * d_out


def bytes_moved(p: Params) -> int:
    # read x, w1, b1, w2, b2; write y (the hidden activations are intermediates)
    b, d_in, d_h, d_out = p["batch"], p["d_in"], p["d_hidden"], p["d_out"]
    elements = b * d_in + d_in * d_h + d_h + d_h * d_out + d_out + b * d_out
    return elements * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="mlp",
    doc="Two-layer MLP y = gelu_tanh(x W1 + b1) W2 + b2",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=compute,
    build_onnx=build_onnx,
    batch_param="batch",
    work_param="batch",
    bound="compute",
)
