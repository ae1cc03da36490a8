"""Builders of small ONNX models for tests and the shipped example configs/models/tiny_lm.onnx."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB = 1000
HIDDEN = 64
# Same opset and IR as kernels/onnx_graph.py, so every ONNX Runtime the project supports loads it.
OPSET = 18
IR_VERSION = 8


def tiny_lm() -> onnx.ModelProto:
    """A toy language model: embedding Gather, MatMul + Relu, MatMul to logits (weights tied)."""
    rng = np.random.default_rng(0)
    embed = (0.1 * rng.standard_normal((VOCAB, HIDDEN))).astype(np.float32)
    w1 = (rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["embed", "input_ids"], ["h0"], axis=0),
        helper.make_node("MatMul", ["h0", "w1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        # Tied output projection (as in GPT-2): one (1000, 64) table keeps the file under 300 KB.
        helper.make_node("Transpose", ["embed"], ["w_out"], perm=[1, 0]),
        helper.make_node("MatMul", ["h2", "w_out"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_lm",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", VOCAB])],
        [numpy_helper.from_array(embed, "embed"), numpy_helper.from_array(w1, "w1")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="accelbench-tests"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def build_tiny_lm(path: str | Path) -> Path:
    """Write tiny_lm() to `path` (deterministic bytes: fixed seed, no timestamps)."""
    out = Path(path)
    onnx.save_model(tiny_lm(), str(out))
    return out
