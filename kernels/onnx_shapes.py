"""Shapes and control values of a model at its fed inputs: ONNX inference, then one CPU run."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from bench.core import digest
from bench.core.workloads import Arrays
from kernels import onnx_count

# An If nested this deep is rare; each level costs one more unoptimised run.
MAX_INLINE_ROUNDS = 8


@dataclass(frozen=True)
class Analysed:
    """The graph the count walks (If nodes with a known condition replaced by the branch
    taken) and what is known of its values."""

    model: onnx.ModelProto
    facts: onnx_count.Facts


def analyse(path: str, feeds: Arrays, errors: tuple[type[Exception], ...]) -> Analysed:
    """The model at `feeds`; `errors` are the ONNX Runtime failures that leave shapes unknown."""
    key = digest.arrays_sha256([feeds])
    return _analyse(path, digest.model_sha256(path), key, _Feeds(feeds), errors)


class _Feeds:
    """Arrays carried through the cache without taking part in its key (the digest does)."""

    def __init__(self, arrays: Arrays) -> None:
        self.arrays = arrays

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Feeds)


@functools.lru_cache(maxsize=4)
def _analyse(
    path: str, model_digest: str, feeds_digest: str, feeds: _Feeds, errors: tuple[type[Exception], ...]
) -> Analysed:  # fmt: skip
    model = onnx.load(path)  # with external data: the probe's session gets bytes, not the path
    run = functools.partial(_run_exposed, feeds=feeds.arrays, errors=errors)
    for _ in range(MAX_INLINE_ROUNDS):
        inferred, facts = _facts(model, feeds.arrays, run)
        inlined = _inline_taken(model, facts.values)
        if inlined is None:
            return Analysed(inferred, facts)
        model = inlined
    return Analysed(inferred, facts)


def _bound(model: onnx.ModelProto, feeds: Arrays) -> onnx.ModelProto:
    """A copy with the graph inputs at the fed shapes and, where ONNX can, shapes inferred."""
    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    for vi in bound.graph.input:
        if vi.name in feeds and vi.type.WhichOneof("value") == "tensor_type":
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for value in feeds[vi.name].shape:
                dims.add().dim_value = value
    try:
        return shape_inference.infer_shapes(bound, data_prop=True)
    except (shape_inference.InferenceError, onnx.checker.ValidationError):
        return bound  # the runtime probe still finds the shapes that matter


def _wanted(graph: onnx.GraphProto) -> tuple[set[str], set[str]]:
    """Names whose shapes the count needs (counted nodes, graph outputs) and whose values it
    needs (If conditions, Loop trip counts)."""
    shapes = {o.name for o in graph.output}
    values: set[str] = set()
    for node in graph.node:
        if node.op_type in ("If", "Loop") and node.input and node.input[0]:
            values.add(node.input[0])
        if onnx_count.node_flops(node, onnx_count.Facts({}, {})) != 0:
            shapes.update(n for n in (*node.input, *node.output) if n)
    return shapes, values


Runner = Callable[[onnx.ModelProto, tuple[str, ...]], dict[str, np.ndarray]]


def _facts(
    model: onnx.ModelProto, feeds: Arrays, run: Runner
) -> tuple[onnx.ModelProto, onnx_count.Facts]:
    """Static shapes from inference; the rest (and If/Loop control values) from one CPU run."""
    inferred = _bound(model, feeds)
    shapes = onnx_count.graph_shapes(inferred.graph)
    shapes.update({n: a.shape for n, a in feeds.items()})
    want_shapes, want_values = _wanted(inferred.graph)
    values = _static_values(inferred.graph, want_values)
    values.update({n: a for n, a in feeds.items() if n in want_values})
    missing = sorted((want_shapes - set(shapes)) | (want_values - set(values)))
    if missing:
        probed = run(model, tuple(missing))
        shapes.update({n: a.shape for n, a in probed.items()})
        values.update({n: a for n, a in probed.items() if n in want_values})
    return inferred, onnx_count.Facts(shapes, values)


def _static_values(graph: onnx.GraphProto, names: set[str]) -> dict[str, np.ndarray]:
    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer if t.name in names}
    for node in graph.node:
        is_value = node.op_type == "Constant" and node.attribute[0].name == "value"
        if is_value and node.output[0] in names:
            out[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return out


def _inline_taken(model: onnx.ModelProto, values: Any) -> onnx.ModelProto | None:
    """A copy whose top-level If nodes with a known condition are replaced by the branch taken,
    so its inner values become top-level and a run can expose them; None if there is none."""
    taken = [n for n in model.graph.node if n.op_type == "If" and n.input[0] in values]
    if not taken:
        return None
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes: list[onnx.NodeProto] = []
    for node in out.graph.node:
        if node.op_type != "If" or node.input[0] not in values:
            nodes.append(node)
            continue
        attrs = {a.name: a.g for a in node.attribute}
        cond = bool(np.asarray(values[node.input[0]]).reshape(-1)[0])
        branch = attrs["then_branch" if cond else "else_branch"]
        nodes.extend(branch.node)
        out.graph.initializer.extend(branch.initializer)
        # The If's outputs keep their names, so what follows the If reads them unchanged.
        nodes.extend(
            helper.make_node("Identity", [inner.name], [outer])
            for inner, outer in zip(branch.output, node.output, strict=True)
        )
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def _run_exposed(
    model: onnx.ModelProto, names: tuple[str, ...], feeds: Arrays,
    errors: tuple[type[Exception], ...],
) -> dict[str, np.ndarray]:  # fmt: skip
    """One unoptimised CPU run with `names` exposed as outputs: their runtime arrays."""
    import onnxruntime as ort

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    declared = {o.name for o in exposed.graph.output} | {i.name for i in exposed.graph.input}
    exposed.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in declared)
    so = ort.SessionOptions()
    # Unoptimised, so every exposed name still exists as the graph states it.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3  # declared-vs-actual output shape warnings are expected here
    wanted = [n for n in names if n not in feeds]
    try:
        session = ort.InferenceSession(exposed.SerializeToString(), so, ["CPUExecutionProvider"])
        arrays = session.run(wanted, feeds)
    except errors:
        return {}  # shapes stay unknown: the FLOP count says None rather than guess
    return {n: np.asarray(a) for n, a in zip(wanted, arrays, strict=True)}
