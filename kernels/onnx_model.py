"""onnx: bring your own model; any ONNX file, checked against ONNX Runtime's CPU provider output."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import ConfigError
from bench.core.workloads import Arrays, Param, Params, WorkloadSpec

if TYPE_CHECKING:
    import onnx

    from kernels import onnx_shapes
    from kernels.onnx_inputs import InputSpec

# onnx, protobuf and the analysis modules load inside the functions that use them: the spec
# (parameters, docs) is read by `accelbench workloads` and --help without them.

_USAGE = "-p model=path/to/model.onnx"

PARAMS = (
    Param("model", "", str, "path", "path of the .onnx file to run"),
    Param("batch", 1, int, "", "value of dims named batch/batch_size/N or leading", minimum=1),
    Param("seq", 128, int, "tokens", "value of dims named seq/seq_len/tokens/...", minimum=1),
    Param("dims", "", str, "", "other dims: name=value or, by position, input:axis=value"),
    Param("int_high", 1000, int, "", "integer inputs (token ids) lie in [0, int_high)", minimum=1),
    Param("int_range", "", str, "", "per-input integer bounds, inclusive: name:low:high,..."),
    Param(
        "inputs", "", str, "path", ".npz whose arrays, named like the model's inputs, are fed as is"
    ),
)


# ---------------------------------------------------------------------------- reading the file


def _file_key(path: str) -> tuple[str, int, int]:
    """Absolute path, mtime and size: a cache key that changes when the file is rewritten."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"model file not found: {path!r} ({exc.strerror}); {_USAGE}") from None
    return os.path.abspath(path), st.st_mtime_ns, st.st_size


def _load(path: str) -> onnx.ModelProto:
    """The model without its external weight data; shared and cached, so callers never mutate it."""
    return _load_cached(*_file_key(path))


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, size: int) -> onnx.ModelProto:
    import onnx
    from google.protobuf import (
        message,  # type: ignore[import-untyped]
        text_format,  # type: ignore[import-untyped]
    )

    try:
        model = onnx.load(path, load_external_data=False)
    except (message.Error, text_format.Error, ValueError, OSError) as exc:
        raise ConfigError(
            f"{path}: not a valid ONNX model ({type(exc).__name__}: {exc}); "
            "pass a file written by onnx.save or torch.onnx.export"
        ) from None
    # Arbitrary bytes can decode as an empty ModelProto; a real model has a graph with outputs.
    if not model.HasField("graph") or not model.graph.output:
        raise ConfigError(
            f"{path}: not a valid ONNX model (no graph outputs); "
            "pass a file written by onnx.save or torch.onnx.export"
        )
    return model


def signature(path: str) -> list[InputSpec]:
    """The inputs a caller feeds: graph inputs that are not initializers, in graph order."""
    graph = _load(path).graph
    weights = {t.name for t in graph.initializer}
    return [_input_spec(path, vi) for vi in graph.input if vi.name not in weights]


def _input_spec(path: str, vi: onnx.ValueInfoProto) -> InputSpec:
    from kernels.onnx_inputs import InputSpec

    kind = vi.type.WhichOneof("value")
    if kind != "tensor_type":
        raise ConfigError(
            f"{path}: input '{vi.name}' is a {kind}, not a tensor; "
            "the onnx workload feeds tensor inputs only"
        )
    tt = vi.type.tensor_type
    dtype = _feedable_dtype(path, vi.name, tt.elem_type)
    shape = None
    if tt.HasField("shape"):
        shape = tuple(_dim(vi.name, axis, d) for axis, d in enumerate(tt.shape.dim))
    return InputSpec(vi.name, dtype.name, shape, tt.elem_type)


def _type_name(elem_type: int) -> str:
    import onnx

    return str(onnx.TensorProto.DataType.Name(elem_type)).lower()


def _feedable_dtype(path: str, name: str, elem_type: int) -> np.dtype:
    """The numpy dtype ONNX Runtime's Python API takes for an input, or a ConfigError why not."""
    from onnx import helper

    from kernels import onnx_inputs

    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError):
        dtype = np.dtype("V1")
    if dtype.kind not in onnx_inputs.FEEDABLE_KINDS:
        raise ConfigError(
            f"{path}: input '{name}' is {_type_name(elem_type)}, which ONNX Runtime's Python API "
            "cannot feed from numpy; export the model with a float32/float16 (or integer) input "
            "and Cast inside the graph"
        )
    return dtype


def _check_outputs(path: str) -> None:
    """Only numeric tensors can be compared with the reference: say so before anything runs."""
    import onnx

    for out in _load(path).graph.output:
        kind = out.type.WhichOneof("value")
        if kind != "tensor_type":
            hint = " (a ZipMap: re-export with zipmap=False)" if kind == "sequence_type" else ""
            raise ConfigError(
                f"{path}: output '{out.name}' is a {kind}, not a tensor{hint}; "
                "the onnx workload checks and times models with tensor outputs only"
            )
        elem = out.type.tensor_type.elem_type
        if elem == onnx.TensorProto.STRING:
            raise ConfigError(
                f"{path}: output '{out.name}' is a string tensor; the onnx workload compares "
                "numeric outputs only (cut the graph before the label lookup)"
            )


def _check_external_data(path: str) -> None:
    """Every external weight file must sit where the model says, relative to the model."""
    import onnx

    folder = os.path.dirname(os.path.abspath(path))
    for t in _load(path).graph.initializer:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        where = {e.key: e.value for e in t.external_data}.get("location", "")
        if not os.path.isfile(os.path.join(folder, where)):
            raise ConfigError(
                f"{path}: initializer '{t.name}' keeps its data in {where!r}, which is not "
                f"beside the model (looked in {folder}); copy the weight file there"
            )


def _dim(input_name: str, axis: int, d: onnx.TensorShapeProto.Dimension) -> int | str:
    if d.HasField("dim_value") and d.dim_value >= 0:
        return d.dim_value
    # An anonymous dynamic dim gets a name that `dims` can bind.
    return d.dim_param or f"{input_name}:{axis}"


# ---------------------------------------------------------------------------- inputs


def bound_shapes(p: Params) -> dict[str, tuple[int, ...]]:
    """Each input's concrete shape: fixed dims as declared, symbolic ones bound by the params."""
    from kernels import onnx_inputs

    return onnx_inputs.bound_shapes(p["model"], signature(p["model"]), p)


def _read_inputs(p: Params) -> Arrays:
    from kernels import onnx_inputs

    return onnx_inputs.read_inputs(p["model"], signature(p["model"]), p["inputs"])


def _feed_shapes(p: Params) -> dict[str, tuple[int, ...]]:
    """The shapes actually fed: from the .npz when `inputs` is given, else the bound ones."""
    if p["inputs"]:
        return {name: a.shape for name, a in _read_inputs(p).items()}
    return bound_shapes(p)


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    """Seeded random data for every input at the bound shapes, or the arrays of `inputs`."""
    from kernels import onnx_inputs

    if p["inputs"]:
        return _read_inputs(p)
    specs = signature(p["model"])
    shapes, ranges = bound_shapes(p), onnx_inputs.parse_int_ranges(p["int_range"], specs)
    return {s.name: onnx_inputs.random_input(s, shapes[s.name], p, ranges, rng) for s in specs}


def samples_per_call(p: Params) -> int:
    """The batch one call processes: the fed arrays' leading dim, else the `batch` parameter."""
    from kernels import onnx_inputs

    if p["inputs"]:
        found = onnx_inputs.batch_of(signature(p["model"]), _read_inputs(p))
        if found is not None:
            return found
    return int(p["batch"])


def check(p: Params) -> None:
    """Everything that can be known before a run: files, types, bindings, and that ORT loads it."""
    from kernels import onnx_inputs

    if not p["model"]:
        raise ValueError(f"parameter 'model' is required: {_USAGE}")
    if not os.path.isfile(p["model"]):
        raise ValueError(f"model file not found: {p['model']!r} ({_USAGE} with an existing file)")
    if p["inputs"] and not os.path.isfile(p["inputs"]):
        raise ValueError(
            f"inputs file not found: {p['inputs']!r} (an .npz written with numpy.savez)"
        )
    signature(p["model"])
    _check_outputs(p["model"])
    _check_external_data(p["model"])
    onnx_inputs.parse_int_ranges(p["int_range"], signature(p["model"]))
    _feed_shapes(p)
    # Loading here makes a model ONNX Runtime cannot load a config error, before any case runs.
    _cpu_session(*_file_key(p["model"]))


# ---------------------------------------------------------------------------- reference


def _ort_errors() -> tuple[type[Exception], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state  # type: ignore[import-untyped]

    names = (
        "Fail",
        "InvalidArgument",
        "InvalidGraph",
        "InvalidProtobuf",
        "NoSuchFile",
        "NotImplemented",
        "RuntimeException",
    )
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


@functools.lru_cache(maxsize=4)
def _cpu_session(path: str, mtime_ns: int, size: int) -> Any:
    # Imported here: listing workloads imports every kernel and should not pay for ONNX Runtime.
    import onnxruntime as ort  # type: ignore[import-untyped]

    so = ort.SessionOptions()
    so.log_severity_level = 3  # exporters often declare output dims the run then overrides
    try:
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    except _ort_errors() as exc:
        custom = sorted({o.domain for o in _load(path).opset_import} - _ORT_DOMAINS)
        hint = (
            f"it imports operator domains {custom}, which need a custom-op library"
            if custom
            else f"check its opset and operators against onnxruntime {ort.__version__}"
        )
        raise ConfigError(
            f"{path}: ONNX Runtime's CPU provider cannot load the model ({exc}); {hint}"
        ) from None


# Operator domains ONNX Runtime registers itself; any other needs a custom-op library.
_ORT_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"}
    | {"com.microsoft", "com.microsoft.nchwc", "com.microsoft.mlfeaturizers"}
    | {"com.microsoft.experimental", "com.ms.internal.nhwc", "org.pytorch.aten"}
)


def reference(x: Arrays, p: Params) -> tuple[np.ndarray, ...]:
    """ONNX Runtime's CPU provider output, against which every other backend is checked."""
    session = _cpu_session(*_file_key(p["model"]))
    try:
        return tuple(session.run(None, dict(x)))
    except _ort_errors() as exc:
        raise ConfigError(
            f"{p['model']}: ONNX Runtime's CPU provider rejected the inputs ({exc}); "
            "check the batch, seq and dims bindings or the inputs file"
        ) from None


def build_onnx(p: Params) -> str:
    # A path, not a ModelProto: ONNX Runtime then resolves external weight files beside it.
    return str(p["model"])


# ---------------------------------------------------------------------------- flops and bytes


def _analysed(p: Params) -> onnx_shapes.Analysed:
    # The inputs the runner feeds at seed 0, so data-dependent shapes and branches match.
    from kernels import onnx_shapes

    feeds = make_inputs(p, np.random.default_rng([0, *SPEC.name.encode()]))
    return onnx_shapes.analyse(p["model"], feeds, _ort_errors())


def flops(p: Params) -> int | None:
    """2 x multiply-adds of the matrix ops, in the If branches taken and Loop bodies too;
    None when any is unknown."""
    from kernels import onnx_count

    found = _analysed(p)
    return onnx_count.graph_flops(found.model.graph, found.facts)


def bytes_moved(p: Params) -> int:
    """Inputs at the fed shapes, every weight the call reads once (initializers, Constant
    nodes; of an If, the branch taken), outputs."""
    from kernels import onnx_count

    fed = _feed_shapes(p)
    inputs = sum(onnx_count.nbytes(s.elem_type, fed[s.name]) for s in signature(p["model"]))
    found = _analysed(p)
    outputs = sum(
        onnx_count.nbytes(o.type.tensor_type.elem_type, found.facts.shapes[o.name])
        for o in found.model.graph.output
        if o.name in found.facts.shapes
    )
    return inputs + onnx_count.weight_bytes(found.model.graph) + outputs


SPEC = WorkloadSpec(
    name="onnx",
    doc="Bring your own model: any ONNX file (-p model=path.onnx), checked against ORT on CPU",
    params=PARAMS,
    make_inputs=make_inputs,
    reference=reference,
    flops=flops,
    bytes_moved=bytes_moved,
    compute=None,  # numpy cannot run an arbitrary ONNX graph: the harness reports it unsupported
    build_onnx=build_onnx,
    check=check,
    # The reference is ORT's CPU output, not float64: a backend (or optimisation level) that
    # fuses and reorders differently drifts by ~1e-4..1e-3 through a deep fp32 network.
    tolerance={"float16": 2e-2, "bfloat16": 5e-2, "float32": 2e-3, "float64": 1e-9},
    batch_param="batch",
    batch_of=samples_per_call,
)
