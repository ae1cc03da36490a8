"""attention: scaled dot-product attention softmax(q k^T / sqrt(d)) v, optionally causal."""

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

PARAMS = (
    Param("batch", 2, int, "sequences", "independent sequences", minimum=1),
    Param("heads", 8, int, "", "attention heads", minimum=1),
    Param("seq", 256, int, "tokens", "sequence length (queries = keys)", minimum=1),
    Param("head_dim", 64, int, "", "width of each head", minimum=1),
    Param("causal", False, bool, "", "mask keys after each query"),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def _shape(p: Params) -> list[int]:
    return [p["batch"], p["heads"], p["seq"], p["head_dim"]]


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    shape = _shape(p)
    return {name: rng.standard_normal(shape).astype(p["dtype"]) for name in ("q", "k", "v")}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    q, k, v = x["q"], x["k"], x["v"]
    scores = xp.matmul(q, xp.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(p["head_dim"]))
    if p["causal"]:
        s = p["seq"]
        future = xp.triu(xp.ones((s, s), dtype=bool), k=1)
        # a finite stand-in for -inf: half the dtype's lowest value stays finite after the max
        # subtraction (no inf - inf NaN), and exp() of it is exactly 0
        scores = xp.where(future, float(xp.finfo(scores.dtype).min) / 2, scores)
    e = xp.exp(scores - xp.max(scores, axis=-1, keepdims=True))
    return xp.matmul(e / xp.sum(e, axis=-1, keepdims=True), v)


def reference(x: Arrays, p: Params) -> np.ndarray:
    q, k, v = (x[name].astype(np.float64) for name in ("q", "k", "v"))
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(p["head_dim"])
    if p["causal"]:
        # the diagonal is never masked, so every row keeps a finite max
        scores = np.where(np.triu(np.ones(scores.shape[-2:], dtype=bool), k=1), -np.inf, scores)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


def _causal_nodes(p: Params) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes turning `scaled` into `masked`; the (seq, seq) mask is built in-graph, not stored."""
    dt, s = p["dtype"], p["seq"]
    true = onnx_graph.array(np.array([True]), "true")
    nodes = [
        onnx_graph.node("ConstantOfShape", ["mask_shape"], ["ones"], value=true),
        onnx_graph.node("Trilu", ["ones", "one"], ["future"], upper=1),
        onnx_graph.node("Where", ["future", "neg", "scaled"], ["masked"]),
    ]
    consts = [
        onnx_graph.const("mask_shape", [s, s], "int64"),
        onnx_graph.const("one", 1, "int64"),
        onnx_graph.const("neg", float(np.finfo(dt).min) / 2, dt),
    ]
    return nodes, consts


def build_onnx(p: Params) -> Any:
    dt, shape = p["dtype"], _shape(p)
    nodes = [
        onnx_graph.node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        onnx_graph.node("MatMul", ["q", "kt"], ["scores"]),
        onnx_graph.node("Mul", ["scores", "scale"], ["scaled"]),
    ]
    consts = [onnx_graph.const("scale", 1.0 / math.sqrt(p["head_dim"]), dt)]
    logits = "scaled"
    if p["causal"]:
        mask_nodes, mask_consts = _causal_nodes(p)
        nodes, consts, logits = nodes + mask_nodes, consts + mask_consts, "masked"
    nodes += [
        onnx_graph.node("Softmax", [logits], ["probs"], axis=-1),
        onnx_graph.node("MatMul", ["probs", "v"], ["out"]),
    ]
    inputs = [onnx_graph.tensor_input(name, dt, shape) for name in ("q", "k", "v")]
    outputs = [onnx_graph.tensor_input("out", dt, shape)]
    return onnx_graph.model("attention", nodes, inputs, outputs, consts)


def flops(p: Params) -> int:
    # two matmuls of 2*s*s*d each per head, counted over the full s x s square even when causal
    # (the kernels compute it all, then mask); plus per score: scale, and softmax's max, subtract,
    # exp, sum, divide = 6. The mask select is not counted.
    b, h, s, d = p["batch"], p["heads"], p["seq"], p["head_dim"]
    return 4 * b * h * s * s * d + 6 * b * h * s * s


def bytes_moved(p: Params) -> int:
    # read q, k, v; write out (the s x s scores are intermediates, not counted)
    b, h, s, d = p["batch"], p["heads"], p["seq"], p["head_dim"]
    return 4 * b * h * s * d * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="attention",
    doc="Scaled dot-product attention over (batch, heads, seq, head_dim), optionally causal",
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
