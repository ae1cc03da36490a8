"""Small helpers to assemble ONNX models whose graph inputs carry every array (no 2 GB limit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

# onnx (and the scipy it pulls in) loads only when a graph is built: listing workloads, or
# running them on numpy, never pays its second of import time.

OPSET = 18


def elem_type(dtype: str) -> int:
    from onnx import TensorProto

    elem: dict[str, int] = {
        "float16": TensorProto.FLOAT16,
        "float32": TensorProto.FLOAT,
        "float64": TensorProto.DOUBLE,
        "int64": TensorProto.INT64,
        "int32": TensorProto.INT32,
    }
    return elem[dtype]


def node(
    op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any
) -> onnx.NodeProto:
    """One graph node (onnx.helper.make_node)."""
    from onnx import helper

    return helper.make_node(op_type, list(inputs), list(outputs), **attrs)


def array(value: Any, name: str) -> onnx.TensorProto:
    """A constant tensor from a numpy array (onnx.numpy_helper.from_array)."""
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(value), name)


def tensor_input(name: str, dtype: str, shape: Sequence[int | str]) -> onnx.ValueInfoProto:
    from onnx import helper

    return helper.make_tensor_value_info(name, elem_type(dtype), list(shape))


def const(name: str, value: Any, dtype: str) -> onnx.TensorProto:
    """A small initializer (scalars, shapes); weights stay graph inputs."""
    arr = np.asarray(value, dtype=dtype)
    return array(arr, name)


def model(
    name: str,
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
) -> onnx.ModelProto:
    """A checked model at OPSET; weights are expected among `inputs`, not initializers."""
    import onnx
    from onnx import helper

    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m
