"""FLOPs and weight bytes of an ONNX graph: 2 x multiply-adds of its matrix ops, subgraphs too."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

Shapes = Mapping[str, tuple[int, ...]]
MS = "com.microsoft"
# Domains whose unlisted ops are light (elementwise, shape, quantize): they add no FLOPs here.
_KNOWN_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", MS})
# Heavy ops this count cannot size: their presence makes the total unknown, never an undercount.
_UNCOUNTED = frozenset(
    {
        (MS, "GroupQueryAttention"),
        (MS, "QAttention"),
        (MS, "PackedAttention"),
        (MS, "DecoderAttention"),
        (MS, "QOrderedAttention"),
        (MS, "SparseAttention"),
        (MS, "LongformerAttention"),
    }
)


@dataclass(frozen=True)
class Facts:
    """What is known of a graph's values: static shapes, and runtime values of a few names."""

    shapes: Shapes
    values: Mapping[str, np.ndarray]


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _matmul(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> int | None:
    if not a or not b:
        return None
    # numpy matmul semantics: a 1-D operand is a row (a) or a column (b); batch dims broadcast.
    m = a[-2] if len(a) > 1 else 1
    n = b[-1] if len(b) > 1 else 1
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return 2 * math.prod(batch) * m * n * a[-1]


def _inputs(node: onnx.NodeProto, shapes: Shapes, *at: int) -> list[tuple[int, ...] | None]:
    return [shapes.get(node.input[i]) if i < len(node.input) else None for i in at]


def _matmul_at(i: int, j: int) -> Callable[[onnx.NodeProto, Shapes], int | None]:
    """MatMul and its quantized forms: operands at input positions i and j."""

    def count(node: onnx.NodeProto, shapes: Shapes) -> int | None:
        return _matmul(*_inputs(node, shapes, i, j))

    return count


def _fused_matmul(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    a, b = _inputs(node, shapes, 0, 1)
    attrs = _attrs(node)
    if a and len(a) > 1 and attrs.get("transA", 0):
        a = (*a[:-2], a[-1], a[-2])
    if b and len(b) > 1 and attrs.get("transB", 0):
        b = (*b[:-2], b[-1], b[-2])
    return _matmul(a, b)


def _matmul_nbits(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    """ORT's block-quantized MatMul: B is packed, its K and N are attributes."""
    a, attrs = shapes.get(node.input[0]), _attrs(node)
    if not a or "N" not in attrs or "K" not in attrs:
        return None
    return 2 * math.prod(a[:-1]) * int(attrs["N"]) * int(attrs["K"])  # type: ignore[call-overload]


def _gemm(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    a, b = _inputs(node, shapes, 0, 1)
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return None
    attrs = _attrs(node)
    m, k = (a[1], a[0]) if attrs.get("transA", 0) else a
    n = b[0] if attrs.get("transB", 0) else b[1]
    return 2 * m * n * k


def _conv_at(w_at: int) -> Callable[[onnx.NodeProto, Shapes], int | None]:
    """Conv and its quantized forms: the weight at input position w_at."""

    def count(node: onnx.NodeProto, shapes: Shapes) -> int | None:
        w, y = shapes.get(node.input[w_at]), shapes.get(node.output[0])
        if w is None or y is None:
            return None
        # Each of N*Cout*spatial outputs is a dot product over Cin/group * kernel taps.
        return 2 * math.prod(y) * math.prod(w[1:])

    return count


def _conv_transpose(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    x, w = _inputs(node, shapes, 0, 1)
    if x is None or w is None:
        return None
    # Each input pixel of each channel scatters into Cout/group * kernel taps (W: Cin, Cout/g, k...).
    return 2 * math.prod(x) * math.prod(w[1:])


def _recurrent(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    """LSTM, GRU, RNN (and ORT's quantized LSTM): input and recurrent projections per step."""
    x, w, r = _inputs(node, shapes, 0, 1, 2)
    if x is None or w is None or r is None or len(x) != 3:
        return None
    steps_batch = x[0] * x[1]  # (seq, batch, in) or, with layout=1, (batch, seq, in)
    # W is (directions, gates*hidden, input) and R (directions, gates*hidden, hidden) in any layout.
    return 2 * steps_batch * (math.prod(w) + math.prod(r))


def _einsum_sizes(equation: str, shapes: list[tuple[int, ...]]) -> dict[str, int] | None:
    terms = equation.replace(" ", "").split("->")[0].split(",")
    if len(terms) != len(shapes):
        return None
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        letters = list(term.replace("...", ""))
        ellipsis = len(shape) - len(letters)
        if "..." in term:
            head = term.index("...")
            letters[head:head] = [f"...{i}" for i in range(ellipsis)]
            ellipsis = 0
        if ellipsis or len(letters) != len(shape):
            return None
        for letter, n in zip(letters, shape, strict=True):
            # Broadcast '...' dims of size 1 take the other operand's size.
            sizes[letter] = max(sizes.get(letter, 1), n)
    return sizes


def _einsum(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    operands = [shapes.get(name) for name in node.input]
    raw = _attrs(node).get("equation", b"")
    equation = raw.decode() if isinstance(raw, bytes) else str(raw)
    if len(operands) > 2 or any(s is None for s in operands) or not re.search(r"\w", equation):
        return None  # three or more operands: the contraction order (and cost) is not fixed
    sizes = _einsum_sizes(equation, [s for s in operands if s is not None])
    if sizes is None:
        return None
    # One multiply-add per combination of all indices; a single operand only sums.
    return (2 if len(operands) == 2 else 1) * math.prod(sizes.values())


def _attention_core(batch_q: int, kv_len: int, qk: int, v: int) -> int:
    """Q @ K^T and P @ V over all heads: batch*seq_q query rows against kv_len keys."""
    return 2 * batch_q * kv_len * qk + 2 * batch_q * kv_len * v


def _attention(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    """ONNX Attention (opset 23): Q, K, V as (B, heads, S, d) or (B, S, heads*d), past keys too."""
    q, k, y = shapes.get(node.input[0]), shapes.get(node.input[1]), shapes.get(node.output[0])
    if q is None or k is None or y is None or len(q) != len(k) or len(q) not in (3, 4):
        return None
    past = shapes.get(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    if len(q) == 4:
        kv_len = k[2] + (past[2] if past else 0)
        return _attention_core(q[0] * q[2], kv_len, q[1] * q[3], y[1] * y[3])
    kv_len = k[1] + (past[2] if past else 0)
    return _attention_core(q[0] * q[1], kv_len, q[2], y[2])


def _ms_attention(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    """ORT's Attention: the packed QKV projection of the input, then the attention core."""
    x, w, y = shapes.get(node.input[0]), shapes.get(node.input[1]), shapes.get(node.output[0])
    if x is None or w is None or y is None or len(x) != 3 or len(w) != 2:
        return None
    sizes = list(_attrs(node).get("qkv_hidden_sizes", []) or [])  # type: ignore[call-overload]
    qk = int(sizes[0]) if sizes else w[1] // 3
    past = shapes.get(node.input[4]) if len(node.input) > 4 and node.input[4] else None
    kv_len = x[1] + (past[3] if past and len(past) == 5 else 0)  # past: (2, B, heads, P, d)
    projection = 2 * x[0] * x[1] * x[2] * w[1]
    return projection + _attention_core(x[0] * x[1], kv_len, qk, y[2])


def _ms_multihead(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    """ORT's MultiHeadAttention with separate query (B, S, D) and key (B, L, D) or (B, h, L, d)."""
    q = shapes.get(node.input[0])
    k = shapes.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    y = shapes.get(node.output[0])
    if q is None or k is None or y is None or len(q) != 3 or len(k) not in (3, 4):
        return None  # packed QKV layouts are not sized here
    kv_len = k[1] if len(k) == 3 else k[2]
    return _attention_core(q[0] * q[1], kv_len, q[2], y[2])


_COUNTERS: dict[tuple[str, str], Callable[[onnx.NodeProto, Shapes], int | None]] = {
    ("", "MatMul"): _matmul_at(0, 1),
    ("", "MatMulInteger"): _matmul_at(0, 1),
    ("", "QLinearMatMul"): _matmul_at(0, 3),
    (MS, "MatMulIntegerToFloat"): _matmul_at(0, 1),
    (MS, "DynamicQuantizeMatMul"): _matmul_at(0, 1),
    (MS, "MatMulNBits"): _matmul_nbits,
    (MS, "FusedMatMul"): _fused_matmul,
    ("", "Gemm"): _gemm,
    ("", "Conv"): _conv_at(1),
    ("", "ConvInteger"): _conv_at(1),
    ("", "QLinearConv"): _conv_at(3),
    (MS, "FusedConv"): _conv_at(1),
    ("", "ConvTranspose"): _conv_transpose,
    ("", "LSTM"): _recurrent,
    ("", "GRU"): _recurrent,
    ("", "RNN"): _recurrent,
    (MS, "DynamicQuantizeLSTM"): _recurrent,
    ("", "Einsum"): _einsum,
    ("", "Attention"): _attention,
    (MS, "Attention"): _ms_attention,
    (MS, "MultiHeadAttention"): _ms_multihead,
}


def _domain(node: onnx.NodeProto) -> str:
    return "" if node.domain in ("", "ai.onnx") else node.domain


def _subgraph_facts(graph: onnx.GraphProto, facts: Facts) -> Facts:
    """The parent's facts plus the shapes inferred inside a subgraph."""
    return Facts({**facts.shapes, **graph_shapes(graph)}, facts.values)


def _scalar(facts: Facts, name: str) -> int | None:
    value = facts.values.get(name)
    return int(np.asarray(value).reshape(-1)[0]) if value is not None and value.size else None


def _if(node: onnx.NodeProto, facts: Facts) -> int | None:
    attrs = _attrs(node)
    branches = [attrs["then_branch"], attrs["else_branch"]]
    cond = _scalar(facts, node.input[0])
    counts = [graph_flops(g, _subgraph_facts(g, facts)) for g in branches]  # type: ignore[arg-type]
    if cond is not None:
        return counts[0] if cond else counts[1]
    # The branch taken is not known: a count holds only when both branches agree.
    return counts[0] if counts[0] == counts[1] else None


def _iterations(node: onnx.NodeProto, facts: Facts, carried: int) -> int | None:
    """A Loop's iterations: the length of a scan output, else its trip count if nothing ends it."""
    for name in node.output[carried:]:
        if name in facts.shapes and facts.shapes[name]:
            return facts.shapes[name][0]
    early_exit = len(node.input) > 1 and node.input[1] != ""
    trips = _scalar(facts, node.input[0]) if node.input and node.input[0] else None
    return None if early_exit else trips


def _loop(node: onnx.NodeProto, facts: Facts) -> int | None:
    body: onnx.GraphProto = _attrs(node)["body"]  # type: ignore[assignment]
    per_iteration = graph_flops(body, _subgraph_facts(body, facts))
    if per_iteration == 0:
        return 0
    iterations = _iterations(node, facts, carried=len(node.input) - 2)
    return None if per_iteration is None or iterations is None else per_iteration * iterations


def _scan(node: onnx.NodeProto, facts: Facts) -> int | None:
    attrs = _attrs(node)
    body: onnx.GraphProto = attrs["body"]  # type: ignore[assignment]
    per_iteration = graph_flops(body, _subgraph_facts(body, facts))
    if per_iteration == 0:
        return 0
    scanned = int(attrs["num_scan_inputs"])  # type: ignore[call-overload]
    axes = list(attrs.get("scan_input_axes", [0]))  # type: ignore[call-overload]
    first = facts.shapes.get(node.input[len(node.input) - scanned])
    if per_iteration is None or first is None:
        return None
    return per_iteration * first[axes[0] % len(first)]


_CONTROL: dict[str, Callable[[onnx.NodeProto, Facts], int | None]] = {
    "If": _if,
    "Loop": _loop,
    "Scan": _scan,
}


def node_flops(node: onnx.NodeProto, facts: Facts) -> int | None:
    """2 x multiply-adds of one node; 0 for light ops; None when its work cannot be sized."""
    key = (_domain(node), node.op_type)
    if key[0] == "" and node.op_type in _CONTROL:
        return _CONTROL[node.op_type](node, facts)
    if key in _COUNTERS:
        return _COUNTERS[key](node, facts.shapes)
    if key in _UNCOUNTED or key[0] not in _KNOWN_DOMAINS:
        return None  # a custom or attention op: its work is real but unknown here
    if any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute
    ):
        return None  # another op with a body (SequenceMap, ...): not sized here
    return 0


def graph_flops(graph: onnx.GraphProto, facts: Facts) -> int | None:
    """The sum over a graph's nodes; None as soon as one node's work is unknown."""
    total = 0
    for node in graph.node:
        count = node_flops(node, facts)
        if count is None:
            return None
        total += count
    return total


def _static_shape(vi: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    if vi.type.WhichOneof("value") != "tensor_type" or not vi.type.tensor_type.HasField("shape"):
        return None
    dims = vi.type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        return None
    return tuple(d.dim_value for d in dims)


def graph_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    """Static shapes the graph itself states: initializers, Constant nodes and value infos."""
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            shape = _constant_shape(node)
            if shape is not None:
                shapes[node.output[0]] = shape
    for vi in (*graph.input, *graph.value_info, *graph.output):
        shape = _static_shape(vi)
        if shape is not None:
            shapes[vi.name] = shape
    return shapes


def _constant_shape(node: onnx.NodeProto) -> tuple[int, ...] | None:
    for a in node.attribute:
        if a.name == "value":
            return tuple(a.t.dims)
        if a.name in ("value_float", "value_int", "value_string"):
            return ()
        if a.name in ("value_floats", "value_ints", "value_strings"):
            return (len(a.floats or a.ints or a.strings),)
    return None


def nbytes(elem_type: int, shape: tuple[int, ...]) -> int:
    """Bytes of a dense tensor; 4-bit types pack two values to a byte."""
    if elem_type in _PACKED_4BIT:
        return (math.prod(shape) + 1) // 2
    return math.prod(shape) * np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize


_PACKED_4BIT = frozenset(
    getattr(onnx.TensorProto, n)
    for n in ("INT4", "UINT4", "FLOAT4E2M1")
    if hasattr(onnx.TensorProto, n)
)


def _constant_bytes(node: onnx.NodeProto) -> int:
    for a in node.attribute:
        if a.name == "value":
            return nbytes(a.t.data_type, tuple(a.t.dims))
        if a.name == "sparse_value":
            values = a.sparse_tensor.values
            return nbytes(values.data_type, tuple(values.dims))
        if a.name in ("value_float", "value_int"):
            return 4 if a.name == "value_float" else 8
        if a.name in ("value_floats", "value_ints"):
            return len(a.floats) * 4 + len(a.ints) * 8
    return 0


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """The graph and every subgraph inside it (If branches, Loop and Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _graphs(g)


def weight_bytes(graph: onnx.GraphProto) -> int:
    """Bytes of every weight, each once: initializers and Constant nodes, subgraphs included."""
    total = 0
    for g in _graphs(graph):
        total += sum(nbytes(t.data_type, tuple(t.dims)) for t in g.initializer)
        total += sum(_constant_bytes(n) for n in g.node if n.op_type == "Constant")
    return total
