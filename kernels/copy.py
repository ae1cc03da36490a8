"""copy: STREAM copy a = b, the pure memory-bandwidth workload (no arithmetic)."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from bench.core.workloads import DTYPES, Arrays, Param, Params, WorkloadSpec
from kernels import onnx_graph

PARAMS = (
    # 4 Mi elements: 32 MiB read and written at float32, past any last-level cache.
    Param("n", 1 << 22, int, "elements", "length of the vector", minimum=1),
    Param("dtype", "float32", str, "", "element type", choices=DTYPES),
)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    # `a` is the destination, allocated once (as STREAM does): a fresh array per call would
    # time the allocator's page faults, not the memory. Random, not zeros, like every input.
    b = rng.standard_normal((p["n"],)).astype(p["dtype"])
    return {"b": b, "a": rng.standard_normal((p["n"],)).astype(p["dtype"])}


def compute(xp: ModuleType, x: Mapping[str, Any], p: Params) -> Any:
    # A real copy of every byte: a view or `asarray` would move nothing at all.
    xp.copyto(x["a"], x["b"])
    return x["a"]


def reference(x: Arrays, p: Params) -> np.ndarray:
    return x["b"].astype(np.float64)


def build_onnx(p: Params) -> Any:
    dt, n = p["dtype"], p["n"]
    return onnx_graph.model(
        "copy",
        [onnx_graph.node("Identity", ["b"], ["a"])],
        [onnx_graph.tensor_input("b", dt, [n])],
        [onnx_graph.tensor_input("a", dt, [n])],
    )


def flops(p: Params) -> None:
    # STREAM copy does no arithmetic: FLOP/s would be meaningless, not zero.
    return None


def bytes_moved(p: Params) -> int:
    # read b, write a
    return 2 * p["n"] * np.dtype(p["dtype"]).itemsize


SPEC = WorkloadSpec(
    name="copy",
    doc="STREAM copy a = b over an n-element vector",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=compute,
    build_onnx=build_onnx,
    work_param="n",
    bound="memory",
    measures_peak=True,
)
