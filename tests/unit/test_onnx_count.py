"""FLOPs and weight bytes of ONNX graphs: one small graph per counted op, control flow, unknowns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench.core.workloads import seeded_inputs
from kernels.onnx_model import SPEC

F = TensorProto.FLOAT


def save(tmp_path: Path, nodes: list, inputs: list, outputs: list, inits=(), opset=18, **kw) -> str:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset), *kw.get("extra_opsets", [])]
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = 10 if opset >= 21 else 8
    path = tmp_path / "m.onnx"
    onnx.save_model(model, str(path))
    return str(path)


def vi(name: str, shape: list, elem: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def weight(name: str, shape: tuple, dtype=np.float32) -> onnx.TensorProto:
    rng = np.random.default_rng(0)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def counts(path: str, **params: object) -> tuple[int | None, int]:
    p = SPEC.resolve({"model": path, **params})
    return SPEC.flops(p), SPEC.bytes_moved(p)


def test_conv_transpose_counts_every_scattered_tap(tmp_path: Path) -> None:
    # x (1, 4, 5, 5), W (4, 3, 2, 2): each of 4*25 input pixels feeds 3*2*2 outputs.
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2])
    path = save(
        tmp_path, [node], [vi("x", [1, 4, 5, 5])], [vi("y", None)], [weight("w", (4, 3, 2, 2))]
    )
    flops, moved = counts(path)
    assert flops == 2 * (4 * 25) * (3 * 2 * 2)
    assert moved == 4 * 100 + 4 * 48 + 4 * (3 * 10 * 10)


def test_lstm_counts_input_and_recurrent_projections_per_step(tmp_path: Path) -> None:
    seq, batch, inp, hid = 7, 2, 5, 6
    node = helper.make_node("LSTM", ["x", "w", "r"], ["y"], hidden_size=hid)
    inits = [weight("w", (1, 4 * hid, inp)), weight("r", (1, 4 * hid, hid))]
    path = save(tmp_path, [node], [vi("x", [seq, batch, inp])], [vi("y", None)], inits)
    flops, _ = counts(path)
    assert flops == 2 * seq * batch * (4 * hid * inp + 4 * hid * hid)


def test_gru_bidirectional(tmp_path: Path) -> None:
    seq, batch, inp, hid = 3, 4, 5, 2
    node = helper.make_node(
        "GRU", ["x", "w", "r"], ["y"], hidden_size=hid, direction="bidirectional"
    )
    inits = [weight("w", (2, 3 * hid, inp)), weight("r", (2, 3 * hid, hid))]
    path = save(tmp_path, [node], [vi("x", [seq, batch, inp])], [vi("y", None)], inits)
    assert counts(path)[0] == 2 * seq * batch * 2 * (3 * hid * inp + 3 * hid * hid)


def test_einsum_batched_contraction(tmp_path: Path) -> None:
    node = helper.make_node("Einsum", ["a", "b"], ["c"], equation="bij,bjk->bik")
    path = save(tmp_path, [node], [vi("a", [2, 3, 4]), vi("b", [2, 4, 5])], [vi("c", None)])
    assert counts(path)[0] == 2 * (2 * 3 * 4 * 5)


def test_quantized_matmul_and_conv(tmp_path: Path) -> None:
    u8 = TensorProto.UINT8
    nodes = [
        helper.make_node("MatMulInteger", ["a", "b"], ["c"]),
        helper.make_node("ConvInteger", ["x", "w"], ["y"]),
    ]
    inits = [weight("b", (8, 3), np.uint8), weight("w", (2, 3, 3, 3), np.uint8)]
    ins = [vi("a", [4, 8], u8), vi("x", [1, 3, 6, 6], u8)]
    path = save(tmp_path, nodes, ins, [vi("c", None, 6), vi("y", None, 6)], inits, opset=13)
    assert counts(path)[0] == 2 * 4 * 3 * 8 + 2 * (2 * 4 * 4) * (3 * 3 * 3)


def test_if_counts_the_branch_the_condition_takes(tmp_path: Path) -> None:
    def branch(k: int, name: str) -> onnx.GraphProto:
        mm = helper.make_node("MatMul", ["x", f"w{k}"], [name])
        return helper.make_graph([mm], f"b{k}", [], [vi(name, [4, k])], [weight(f"w{k}", (8, k))])

    node = helper.make_node(
        "If", ["cond"], ["y"], then_branch=branch(2, "t"), else_branch=branch(5, "e")
    )
    cond = helper.make_node("Greater", ["s", "zero"], ["cond"])
    inits = [numpy_helper.from_array(np.array(-10.0, np.float32), "zero")]
    ins = [vi("x", [4, 8]), vi("s", [])]
    path = save(tmp_path, [cond, node], ins, [vi("y", None)], inits)
    # Random normal s is above -10: the then branch (k=2) runs, and only its weights are read.
    flops, moved = counts(path)
    assert flops == 2 * 4 * 8 * 2
    assert moved == 4 * (32 + 1) + 4 * (1 + 16) + 4 * 8


def test_loop_multiplies_its_body_by_the_trip_count(tmp_path: Path) -> None:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c_in"], ["c_out"]),
            helper.make_node("MatMul", ["h_in", "w"], ["h_out"]),
        ],
        "body",
        [vi("i", [], TensorProto.INT64), vi("c_in", [], TensorProto.BOOL), vi("h_in", [3, 6])],
        [vi("c_out", [], TensorProto.BOOL), vi("h_out", [3, 6])],
    )
    trips = helper.make_node(
        "Constant", [], ["m"], value=numpy_helper.from_array(np.array(5, np.int64))
    )
    loop = helper.make_node("Loop", ["m", "", "h0"], ["h"], body=body)
    path = save(tmp_path, [trips, loop], [vi("h0", [3, 6])], [vi("h", None)], [weight("w", (6, 6))])
    assert counts(path)[0] == 5 * 2 * 3 * 6 * 6


def test_constant_node_weights_count_once_in_bytes(tmp_path: Path) -> None:
    w = helper.make_node("Constant", [], ["w"], value=weight("wv", (16, 32)))
    mm1 = helper.make_node("MatMul", ["x", "w"], ["y1"])
    mm2 = helper.make_node("MatMul", ["x", "w"], ["y2"])
    path = save(tmp_path, [w, mm1, mm2], [vi("x", [2, 16])], [vi("y1", None), vi("y2", None)])
    flops, moved = counts(path)
    assert flops == 2 * (2 * 2 * 16 * 32)
    assert moved == 4 * 32 + 4 * 16 * 32 + 2 * (4 * 64)


@pytest.mark.parametrize(
    ("domain", "op"), [("com.microsoft", "GroupQueryAttention"), ("custom.example", "Mystery")]
)
def test_unsized_heavy_or_custom_ops_make_the_count_unknown(domain: str, op: str) -> None:
    from kernels import onnx_count

    node = helper.make_node(op, ["x"], ["y"], domain=domain)
    facts = onnx_count.Facts({"x": (2, 3)}, {})
    assert onnx_count.node_flops(node, facts) is None
    relu = helper.make_node("Relu", ["x"], ["y"])
    assert onnx_count.node_flops(relu, facts) == 0


def test_matmul_with_unknown_shape_is_unknown_not_zero() -> None:
    from kernels import onnx_count

    node = helper.make_node("MatMul", ["a", "b"], ["c"])
    assert onnx_count.node_flops(node, onnx_count.Facts({"a": (2, 3)}, {})) is None


def test_runtime_shapes_fill_what_inference_cannot(tmp_path: Path) -> None:
    # Reshape to a shape computed from the data: shape inference cannot follow NonZero.
    nodes = [
        helper.make_node("NonZero", ["mask"], ["nz"]),
        helper.make_node("Shape", ["nz"], ["nzs"]),
        helper.make_node("Slice", ["nzs", "one", "two"], ["count"]),
        helper.make_node("Concat", ["count", "eight"], ["shape"], axis=0),
        helper.make_node("Expand", ["row", "shape"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([8], np.int64), "eight"),
        numpy_helper.from_array(np.ones((1, 8), np.float32), "row"),
        weight("w", (8, 4)),
    ]
    ins = [vi("mask", [6], TensorProto.BOOL)]
    path = save(tmp_path, nodes, ins, [vi("y", None)], inits)
    p = SPEC.resolve({"model": path})
    mask = seeded_inputs(SPEC, p, seed=0)["mask"]
    assert SPEC.flops(p) == 2 * int(mask.sum()) * 8 * 4


def attention_flops(op: str, domain: str, shapes: dict, inputs: list[str], **attrs: object):
    from kernels import onnx_count

    node = helper.make_node(op, inputs, ["y"], domain=domain, **attrs)
    return onnx_count.node_flops(node, onnx_count.Facts(shapes, {}))


def test_onnx_attention_counts_scores_and_weighted_values() -> None:
    # B=2, 4 heads, S=8 queries, L=16 keys, d=32: QK^T and PV are each 2*B*h*S*L*d.
    four_d = {"q": (2, 4, 8, 32), "k": (2, 4, 16, 32), "v": (2, 4, 16, 32), "y": (2, 4, 8, 32)}
    assert attention_flops("Attention", "", four_d, ["q", "k", "v"]) == 2 * 2 * (
        2 * 4 * 8 * 16 * 32
    )
    three_d = {"q": (2, 8, 128), "k": (2, 16, 128), "v": (2, 16, 128), "y": (2, 8, 128)}
    assert attention_flops("Attention", "", three_d, ["q", "k", "v"], q_num_heads=4) == (
        2 * 2 * (2 * 8 * 16 * 128)
    )


def test_ort_attention_adds_the_qkv_projection() -> None:
    shapes = {"x": (2, 8, 64), "w": (64, 192), "b": (192,), "y": (2, 8, 64)}
    projection = 2 * (2 * 8) * 64 * 192
    core = 2 * 2 * (2 * 8 * 8 * 64)
    flops = attention_flops("Attention", "com.microsoft", shapes, ["x", "w", "b"], num_heads=4)
    assert flops == projection + core


def test_ort_multihead_attention_with_separate_keys() -> None:
    shapes = {"q": (1, 10, 64), "k": (1, 20, 64), "v": (1, 20, 64), "y": (1, 10, 64)}
    flops = attention_flops(
        "MultiHeadAttention", "com.microsoft", shapes, ["q", "k", "v"], num_heads=2
    )
    assert flops == 2 * 2 * (10 * 20 * 64)
    packed = {"q": (1, 10, 2, 3, 32), "y": (1, 10, 64)}
    assert (
        attention_flops("MultiHeadAttention", "com.microsoft", packed, ["q"], num_heads=2) is None
    )


def test_attention_model_through_the_workload(tmp_path: Path) -> None:
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"])
    ins = [vi("q", [2, 4, 8, 32]), vi("k", [2, 4, 16, 32]), vi("v", [2, 4, 16, 32])]
    path = save(tmp_path, [node], ins, [vi("y", None)], opset=23)
    flops, moved = counts(path)
    assert flops == 2 * 2 * (2 * 4 * 8 * 16 * 32)
    assert moved == 4 * (2 * 4 * 8 * 32) * 2 + 4 * (2 * 4 * 16 * 32) * 2


def test_if_branch_shapes_known_only_at_runtime_are_found_by_inlining(tmp_path: Path) -> None:
    # Inside the branch, the MatMul's rows come from NonZero: inference cannot size it, so the
    # taken branch is inlined and one run exposes its values.
    inner = [
        helper.make_node("NonZero", ["mask"], ["nz"]),
        helper.make_node("Shape", ["nz"], ["nzs"]),
        helper.make_node("Slice", ["nzs", "one", "two"], ["count"]),
        helper.make_node("Concat", ["count", "eight"], ["shape"], axis=0),
        helper.make_node("Expand", ["row", "shape"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["t"]),
    ]
    then = helper.make_graph(inner, "then", [], [vi("t", None)])
    other = helper.make_graph(
        [helper.make_node("MatMul", ["row", "w"], ["e"])], "else", [], [vi("e", None)]
    )
    nodes = [
        helper.make_node("Cast", ["mask"], ["mask_f"], to=F),
        helper.make_node("ReduceMax", ["mask_f"], ["top"], keepdims=0),
        helper.make_node("Greater", ["top", "half"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([8], np.int64), "eight"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.ones((1, 8), np.float32), "row"),
        weight("w", (8, 4)),
    ]
    path = save(tmp_path, nodes, [vi("mask", [6], TensorProto.BOOL)], [vi("y", None)], inits)
    p = SPEC.resolve({"model": path})
    mask = seeded_inputs(SPEC, p, seed=0)["mask"]
    assert mask.any()  # so the then branch is the one taken
    assert SPEC.flops(p) == 2 * int(mask.sum()) * 8 * 4
