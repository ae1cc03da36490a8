"""Small helpers to assemble ONNX models whose graph inputs carry every array (no 2 GB limit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 18
_ELEM = {
    "float16": TensorProto.FLOAT16,
    "float32": TensorProto.FLOAT,
    "float64": TensorProto.DOUBLE,
    "int64": TensorProto.INT64,
    "int32": TensorProto.INT32,
}


def elem_type(dtype: str) -> int:
    return _ELEM[dtype]


def tensor_input(name: str, dtype: str, shape: Sequence[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, _ELEM[dtype], list(shape))


def const(name: str, value: Any, dtype: str) -> onnx.TensorProto:
    """A small initializer (scalars, shapes); weights stay graph inputs."""
    arr = np.asarray(value, dtype=dtype)
    return onnx.numpy_helper.from_array(arr, name)


def model(
    name: str,
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
) -> onnx.ModelProto:
    """A checked model at OPSET; weights are expected among `inputs`, not initializers."""
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m
