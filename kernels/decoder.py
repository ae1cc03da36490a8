"""decoder: one Llama-style decoder layer (RMSNorm, RoPE, GQA, SwiGLU) for one decode step."""

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
    Param("batch", 1, int, "sequences", "sequences decoded together", minimum=1),
    Param("kv_len", 64, int, "tokens", "past tokens already in the KV cache", minimum=1),
    Param("d_model", 256, int, "", "hidden size", minimum=1),
    Param("n_heads", 4, int, "", "query heads", minimum=1),
    Param("n_kv_heads", 2, int, "", "key/value heads (grouped-query attention)", minimum=1),
    Param("d_ff", 704, int, "", "feed-forward (SwiGLU) inner size", minimum=1),
    Param("rope_theta", 500000.0, float, "", "rotary embedding base"),
    Param("eps", 1e-5, float, "", "RMSNorm epsilon", minimum=0.0),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)

_SHAPES = ("d_model", "n_heads", "n_kv_heads", "d_ff", "kv_len")
PRESETS: Mapping[str, Mapping[str, Any]] = {
    "tiny": dict(zip(_SHAPES, (256, 4, 2, 704, 64), strict=True)),
    "small": dict(zip(_SHAPES, (1024, 16, 4, 2816, 256), strict=True)),
    "llama-3.1-8b": dict(zip(_SHAPES, (4096, 32, 8, 14336, 1024), strict=True)),
    "llama-3.1-70b": dict(zip(_SHAPES, (8192, 64, 8, 28672, 1024), strict=True)),
}
# Published model configs, for whole-model projections from one layer.
LAYERS = {"llama-3.1-8b": 32, "llama-3.1-70b": 80}
VOCAB = 128256


def head_dim(p: Params) -> int:
    return int(p["d_model"]) // int(p["n_heads"])


def check(p: Params) -> None:
    """Reject shapes a Llama layer cannot have; SPEC.resolve turns this into ConfigError."""
    d, h, kv = p["d_model"], p["n_heads"], p["n_kv_heads"]
    if d % h:
        raise ValueError(f"d_model {d} is not divisible by n_heads {h} (head_dim must be whole)")
    if h % kv:
        raise ValueError(
            f"n_heads {h} is not divisible by n_kv_heads {kv} (each KV head serves a whole group)"
        )
    if (d // h) % 2:
        raise ValueError(f"head_dim {d // h} (d_model / n_heads) must be even for rotary halves")
    if p["rope_theta"] <= 0:
        raise ValueError(f"rope_theta {p['rope_theta']} must be positive")


def rope_tables(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin (1, head_dim/2) at the new token's position, which is kv_len."""
    hd = head_dim(p)
    inv_freq = float(p["rope_theta"]) ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    angle = float(p["kv_len"]) * inv_freq
    return np.cos(angle)[None, :], np.sin(angle)[None, :]


def _normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float, dtype: str) -> Any:
    # Drawn in float32: the 70b preset's fp64 draws would need twice the ~3.4 GB of weights.
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(dtype)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    b, d, f, dt = p["batch"], p["d_model"], p["d_ff"], p["dtype"]
    hd, kv = head_dim(p), p["n_kv_heads"]
    qd, kvd = p["n_heads"] * hd, kv * hd
    # Weights scaled by 1/sqrt(fan_in) keep activations O(1), so relative error means something.
    x = {
        "x": _normal(rng, (b, 1, d), 1.0, dt),
        "k_cache": _normal(rng, (b, kv, p["kv_len"], hd), 1.0, dt),
        "v_cache": _normal(rng, (b, kv, p["kv_len"], hd), 1.0, dt),
        "w_attn_norm": (1.0 + _normal(rng, (d,), 0.1, "float32")).astype(dt),
        "wq": _normal(rng, (d, qd), d**-0.5, dt),
        "wk": _normal(rng, (d, kvd), d**-0.5, dt),
        "wv": _normal(rng, (d, kvd), d**-0.5, dt),
        "wo": _normal(rng, (qd, d), qd**-0.5, dt),
        "w_ffn_norm": (1.0 + _normal(rng, (d,), 0.1, "float32")).astype(dt),
        "w_gate": _normal(rng, (d, f), d**-0.5, dt),
        "w_up": _normal(rng, (d, f), d**-0.5, dt),
        "w_down": _normal(rng, (f, d), f**-0.5, dt),
    }
    cos, sin = rope_tables(p)
    x["cos"], x["sin"] = cos.astype(dt), sin.astype(dt)
    return x


def _widen(xp: ModuleType, a: Any) -> Any:
    # float16 norms and softmax lose too much; Llama implementations run them in float32.
    return a.astype(xp.float32) if a.dtype == xp.float16 else a


def rms_norm(xp: ModuleType, a: Any, w: Any, eps: float) -> Any:
    wide = _widen(xp, a)
    normed = wide / xp.sqrt(xp.mean(wide * wide, axis=-1, keepdims=True) + eps)
    return normed.astype(a.dtype) * w


def rope(xp: ModuleType, t: Any, cos: Any, sin: Any) -> Any:
    """Rotate-half rotary embedding: (t1, t2) -> (t1 cos - t2 sin, t2 cos + t1 sin)."""
    half = t.shape[-1] // 2
    t1, t2 = t[..., :half], t[..., half:]
    return xp.concatenate([t1 * cos - t2 * sin, t2 * cos + t1 * sin], axis=-1)


def gqa_attention(xp: ModuleType, q: Any, k: Any, v: Any) -> Any:
    """q (b, kv, group, hd) against k, v (b, kv, T, hd): a group shares its KV head, no copy."""
    scores = xp.matmul(q, xp.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    wide = _widen(xp, scores)
    e = xp.exp(wide - xp.max(wide, axis=-1, keepdims=True))
    probs = (e / xp.sum(e, axis=-1, keepdims=True)).astype(q.dtype)
    return xp.matmul(probs, v)


def swiglu(xp: ModuleType, a: Any, w_gate: Any, w_up: Any, w_down: Any) -> Any:
    g = xp.matmul(a, w_gate)
    return xp.matmul(g / (1.0 + xp.exp(-g)) * xp.matmul(a, w_up), w_down)


def _attention_block(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    b, hd, kv = x["x"].shape[0], head_dim(p), p["n_kv_heads"]
    group = p["n_heads"] // kv
    xn = rms_norm(xp, x["x"], x["w_attn_norm"], p["eps"])
    # Query head h = kv_head * group + g, the layout of the usual repeat-interleave of KV heads.
    q = rope(xp, xp.matmul(xn, x["wq"]).reshape(b, kv, group, hd), x["cos"], x["sin"])
    k_new = rope(xp, xp.matmul(xn, x["wk"]).reshape(b, kv, 1, hd), x["cos"], x["sin"])
    v_new = xp.matmul(xn, x["wv"]).reshape(b, kv, 1, hd)
    k = xp.concatenate([x["k_cache"], k_new], axis=2)
    v = xp.concatenate([x["v_cache"], v_new], axis=2)
    heads = gqa_attention(xp, q, k, v).reshape(b, 1, p["n_heads"] * hd)
    return x["x"] + xp.matmul(heads, x["wo"])


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    h = _attention_block(xp, x, p)
    hn = rms_norm(xp, h, x["w_ffn_norm"], p["eps"])
    return h + swiglu(xp, hn, x["w_gate"], x["w_up"], x["w_down"])


def reference(x: Arrays, p: Params) -> np.ndarray:
    wide = {name: a.astype(np.float64) for name, a in x.items()}
    out: np.ndarray = compute(np, wide, p)
    return out


class _Graph:
    """Collects ONNX nodes and small constants; each op gets a fresh output name."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.consts: list[onnx.TensorProto] = []

    def op(self, op_type: str, *inputs: str, out: str = "", **attrs: Any) -> str:
        name = out or f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(onnx_graph.node(op_type, list(inputs), [name], **attrs))
        return name

    def const(self, value: Any, dtype: str) -> str:
        name = f"const_{len(self.consts)}"
        self.consts.append(onnx_graph.const(name, value, dtype))
        return name

    def widen(self, a: str) -> str:
        # Mirrors _widen: float16 norms and softmax run in float32.
        if self.dtype != "float16":
            return a
        return self.op("Cast", a, to=onnx_graph.elem_type("float32"))

    def narrow(self, a: str) -> str:
        if self.dtype != "float16":
            return a
        return self.op("Cast", a, to=onnx_graph.elem_type("float16"))

    @property
    def wide_dtype(self) -> str:
        return "float32" if self.dtype == "float16" else self.dtype


def _onnx_rms_norm(g: _Graph, a: str, w: str, eps: float) -> str:
    wide = g.widen(a)
    sq = g.op("Pow", wide, g.const(2.0, g.wide_dtype))
    mean = g.op("ReduceMean", sq, g.const([-1], "int64"), keepdims=1)
    rms = g.op("Sqrt", g.op("Add", mean, g.const(eps, g.wide_dtype)))
    return g.op("Mul", g.narrow(g.op("Div", wide, rms)), w)


def _onnx_rope(g: _Graph, t: str, hd: int) -> str:
    axis, half = g.const([-1], "int64"), hd // 2
    t1 = g.op("Slice", t, g.const([0], "int64"), g.const([half], "int64"), axis)
    t2 = g.op("Slice", t, g.const([half], "int64"), g.const([hd], "int64"), axis)
    lo = g.op("Sub", g.op("Mul", t1, "cos"), g.op("Mul", t2, "sin"))
    hi = g.op("Add", g.op("Mul", t2, "cos"), g.op("Mul", t1, "sin"))
    return g.op("Concat", lo, hi, axis=-1)


def _onnx_projection(g: _Graph, xn: str, w: str, shape: list[int]) -> str:
    return g.op("Reshape", g.op("MatMul", xn, w), g.const(shape, "int64"))


def _onnx_attention_block(g: _Graph, p: Params) -> str:
    b, hd, kv = p["batch"], head_dim(p), p["n_kv_heads"]
    group = p["n_heads"] // kv
    xn = _onnx_rms_norm(g, "x", "w_attn_norm", p["eps"])
    q = _onnx_rope(g, _onnx_projection(g, xn, "wq", [b, kv, group, hd]), hd)
    k_new = _onnx_rope(g, _onnx_projection(g, xn, "wk", [b, kv, 1, hd]), hd)
    v_new = _onnx_projection(g, xn, "wv", [b, kv, 1, hd])
    k = g.op("Concat", "k_cache", k_new, axis=2)
    v = g.op("Concat", "v_cache", v_new, axis=2)
    scores = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2]))
    scaled = g.op("Mul", scores, g.const(1.0 / math.sqrt(hd), g.dtype))
    probs = g.narrow(g.op("Softmax", g.widen(scaled), axis=-1))
    heads = g.op("MatMul", probs, v)
    flat = g.op("Reshape", heads, g.const([b, 1, p["n_heads"] * hd], "int64"))
    return g.op("Add", "x", g.op("MatMul", flat, "wo"))


def _onnx_inputs(p: Params) -> list[onnx.ValueInfoProto]:
    b, d, f, hd, kv = p["batch"], p["d_model"], p["d_ff"], head_dim(p), p["n_kv_heads"]
    qd, kvd = p["n_heads"] * hd, kv * hd
    shapes: dict[str, list[int]] = {
        "x": [b, 1, d],
        "k_cache": [b, kv, p["kv_len"], hd],
        "v_cache": [b, kv, p["kv_len"], hd],
        "w_attn_norm": [d],
        "wq": [d, qd],
        "wk": [d, kvd],
        "wv": [d, kvd],
        "wo": [qd, d],
        "w_ffn_norm": [d],
        "w_gate": [d, f],
        "w_up": [d, f],
        "w_down": [f, d],
        "cos": [1, hd // 2],
        "sin": [1, hd // 2],
    }
    return [onnx_graph.tensor_input(n, p["dtype"], s) for n, s in shapes.items()]


def build_onnx(p: Params) -> Any:
    """Every array, weights included, is a graph input: the 70b layer's ~3.4 GB fits no protobuf."""
    g = _Graph(p["dtype"])
    h = _onnx_attention_block(g, p)
    hn = _onnx_rms_norm(g, h, "w_ffn_norm", p["eps"])
    gate = g.op("MatMul", hn, "w_gate")
    silu = g.op("Mul", gate, g.op("Sigmoid", gate))
    mixed = g.op("Mul", silu, g.op("MatMul", hn, "w_up"))
    g.op("Add", h, g.op("MatMul", mixed, "w_down"), out="out")
    out = onnx_graph.tensor_input("out", p["dtype"], [p["batch"], 1, p["d_model"]])
    return onnx_graph.model("decoder", g.nodes, _onnx_inputs(p), [out], g.consts)


def flops(p: Params) -> int:
    b, d, f, hd = p["batch"], p["d_model"], p["d_ff"], head_dim(p)
    qd, kvd, t = p["n_heads"] * hd, p["n_kv_heads"] * hd, p["kv_len"] + 1
    return (
        2 * b * d * qd  # q = xn @ wq
        + 2 * b * d * kvd  # k_new = xn @ wk
        + 2 * b * d * kvd  # v_new = xn @ wv
        + 2 * b * p["n_heads"] * t * hd  # scores = q @ k^T over kv_len + 1 positions
        + 2 * b * p["n_heads"] * t * hd  # probs @ v over kv_len + 1 positions
        + 2 * b * qd * d  # heads @ wo
        + 2 * b * d * f  # hn @ w_gate
        + 2 * b * d * f  # hn @ w_up
        + 2 * b * f * d  # (silu(gate) * up) @ w_down
    )


def weight_bytes(p: Params) -> int:
    """Bytes of one layer's weights: both norms, wq, wk, wv, wo and the three FFN matrices."""
    d, f, hd = p["d_model"], p["d_ff"], head_dim(p)
    qd, kvd = p["n_heads"] * hd, p["n_kv_heads"] * hd
    elems = 2 * d + d * qd + 2 * d * kvd + qd * d + 3 * d * f
    return int(np.dtype(p["dtype"]).itemsize * elems)


def bytes_moved(p: Params) -> int:
    """Weights, KV cache, x and rotary tables read once; the output written once."""
    b, d, hd = p["batch"], p["d_model"], head_dim(p)
    cache = 2 * b * p["n_kv_heads"] * p["kv_len"] * hd
    tables = 2 * (hd // 2)
    item = np.dtype(p["dtype"]).itemsize
    return weight_bytes(p) + item * (b * d + cache + tables + b * d)


# The residual stream dominates the output, so fp16 error stays near its rounding of the inputs.
TOLERANCE = {"float16": 2e-2, "float32": 1e-4, "float64": 1e-10}


SPEC = WorkloadSpec(
    name="decoder",
    doc="One Llama-style decoder layer, decode step: RMSNorm, RoPE, GQA over the KV cache, SwiGLU",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=compute,
    build_onnx=build_onnx,
    check=check,
    tolerance=TOLERANCE,
    batch_param="batch",
    presets=PRESETS,
    bound="memory",
)
