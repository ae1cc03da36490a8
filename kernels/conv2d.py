"""conv2d: NCHW 3x3 convolution, stride 1, padding 1, with bias, as im2col plus one matmul."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

KERNEL = 3  # fixed 3x3; padding 1 keeps height and width unchanged at stride 1

PARAMS = (
    Param("batch", 4, int, "images", "images per call", minimum=1),
    Param("in_channels", 32, int, "", "input channels", minimum=1),
    Param("out_channels", 64, int, "", "output channels (filters)", minimum=1),
    Param("height", 32, int, "px", "image height", minimum=1),
    Param("width", 32, int, "px", "image width", minimum=1),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    n, c, o = p["batch"], p["in_channels"], p["out_channels"]
    x = rng.standard_normal((n, c, p["height"], p["width"]))
    # 1/sqrt(fan_in) keeps outputs near unit size, so fp16 stays far from overflow
    w = rng.standard_normal((o, c, KERNEL, KERNEL)) / math.sqrt(c * KERNEL * KERNEL)
    b = 0.1 * rng.standard_normal((o,))
    return {"x": x.astype(p["dtype"]), "w": w.astype(p["dtype"]), "b": b.astype(p["dtype"])}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    n, c, h, w = x["x"].shape
    o = x["w"].shape[0]
    padded = xp.pad(x["x"], ((0, 0), (0, 0), (1, 1), (1, 1)))
    # im2col: (n, c, 9, h, w), ordered like the weights' (c, kh, kw) so one reshape lines them up
    shifts = [padded[:, :, i : i + h, j : j + w] for i in range(KERNEL) for j in range(KERNEL)]
    cols = xp.stack(shifts, axis=2).reshape(n, c * KERNEL * KERNEL, h * w)
    out = xp.matmul(x["w"].reshape(o, c * KERNEL * KERNEL), cols) + x["b"].reshape(o, 1)
    return out.reshape(n, o, h, w)


def reference(x: Arrays, p: Params) -> np.ndarray:
    # a direct sum over the nine taps, independent of the im2col layout in compute()
    img, wt = x["x"].astype(np.float64), x["w"].astype(np.float64)
    h, w = img.shape[2:]
    padded = np.pad(img, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((img.shape[0], wt.shape[0], h, w))
    for i in range(KERNEL):
        for j in range(KERNEL):
            out += np.einsum("nchw,oc->nohw", padded[:, :, i : i + h, j : j + w], wt[:, :, i, j])
    return out + x["b"].astype(np.float64).reshape(1, -1, 1, 1)


def build_onnx(p: Params) -> Any:
    dt, n, c, o = p["dtype"], p["batch"], p["in_channels"], p["out_channels"]
    h, w = p["height"], p["width"]
    node = onnx_graph.node(
        "Conv", ["x", "w", "b"], ["y"], kernel_shape=[KERNEL, KERNEL], pads=[1, 1, 1, 1]
    )
    inputs = [
        onnx_graph.tensor_input("x", dt, [n, c, h, w]),
        onnx_graph.tensor_input("w", dt, [o, c, KERNEL, KERNEL]),
        onnx_graph.tensor_input("b", dt, [o]),
    ]
    outputs = [onnx_graph.tensor_input("y", dt, [n, o, h, w])]
    return onnx_graph.model("conv2d", [node], inputs, outputs)


def flops(p: Params) -> int:
    # per output element: a multiply and an add per tap (c*9 taps), plus the bias add
    outputs = p["batch"] * p["out_channels"] * p["height"] * p["width"]
    return outputs * (2 * p["in_channels"] * KERNEL * KERNEL + 1)


def bytes_moved(p: Params) -> int:
    # read x, w, b; write y (the im2col buffer is an intermediate)
    n, c, o, hw = p["batch"], p["in_channels"], p["out_channels"], p["height"] * p["width"]
    elements = n * c * hw + o * c * KERNEL * KERNEL + o + n * o * hw
    return elements * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="conv2d",
    doc="NCHW 3x3 convolution, stride 1, padding 1, with bias",
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
