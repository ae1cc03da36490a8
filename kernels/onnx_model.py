"""onnx: bring your own model; any ONNX file, checked against ONNX Runtime's CPU provider output."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from google.protobuf import message, text_format  # type: ignore[import-untyped]
from onnx import helper, shape_inference

from bench.core.errors import ConfigError
from bench.core.workloads import Arrays, Param, Params, WorkloadSpec

# Symbolic dim names (compared lower-case) that the `batch` and `seq` parameters bind.
BATCH_NAMES = frozenset({"batch", "batch_size", "batchsize", "bs", "n"})
SEQ_NAMES = frozenset(
    {"seq", "sequence", "sequence_length", "seq_len", "seq_length", "tokens", "num_tokens"}
)
_USAGE = "-p model=path/to/model.onnx"

PARAMS = (
    Param("model", "", str, "path", "path of the .onnx file to run"),
    Param("batch", 1, int, "", "value of dims named batch/batch_size/N or leading", minimum=1),
    Param("seq", 128, int, "tokens", "value of dims named seq/seq_len/tokens/...", minimum=1),
    Param("dims", "", str, "", "other symbolic dims: name=value,name2=value2"),
    Param("int_high", 1000, int, "", "integer inputs (token ids) lie in [0, int_high)", minimum=1),
    Param("inputs", "", str, "path", ".npz whose arrays, named like the model's inputs, are fed as is"),
)


@dataclass(frozen=True)
class InputSpec:
    """One input a caller feeds: name, numpy dtype name, shape (ints fixed, strings symbolic)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...] | None  # None: the model declares no rank
    elem_type: int  # onnx.TensorProto element type, which also covers ml_dtypes (bfloat16, ...)


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
    kind = vi.type.WhichOneof("value")
    if kind != "tensor_type":
        raise ConfigError(
            f"{path}: input '{vi.name}' is a {kind}, not a tensor; "
            "the onnx workload feeds tensor inputs only"
        )
    tt = vi.type.tensor_type
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
    except KeyError:
        raise ConfigError(
            f"{path}: input '{vi.name}' has element type {tt.elem_type}, which numpy cannot hold"
        ) from None
    shape = None
    if tt.HasField("shape"):
        shape = tuple(_dim(vi.name, axis, d) for axis, d in enumerate(tt.shape.dim))
    return InputSpec(vi.name, dtype.name, shape, tt.elem_type)


def _dim(input_name: str, axis: int, d: onnx.TensorShapeProto.Dimension) -> int | str:
    if d.HasField("dim_value") and d.dim_value >= 0:
        return d.dim_value
    # An anonymous dynamic dim gets a name that `dims` can bind.
    return d.dim_param or f"{input_name}:{axis}"


# ---------------------------------------------------------------------------- binding shapes


def _explicit_dims(text: str) -> dict[str, int]:
    """Parse the `dims` parameter: 'name=value,name2=value2'."""
    out: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.rpartition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise ConfigError(
                f"parameter 'dims' = {text!r}: {item!r} is not name=value with a whole number "
                "(example: -p dims=past_len=0,heads=12)"
            )
        out[name.strip()] = int(value)
    return out


def _symbol_value(name: str, leading: bool, p: Params, explicit: dict[str, int]) -> int | None:
    if name in explicit:
        return explicit[name]
    if name.lower() in BATCH_NAMES:
        return int(p["batch"])
    if name.lower() in SEQ_NAMES:
        return int(p["seq"])
    # A symbolic leading dim is the batch in nearly every exported model.
    return int(p["batch"]) if leading else None


def _unbound(path: str, spec: InputSpec, name: str) -> ConfigError:
    return ConfigError(
        f"{path}: symbolic dim '{name}' of input '{spec.name}' is not bound; "
        f"bind it with -p dims={name}=VALUE (batch binds {'/'.join(sorted(BATCH_NAMES))} "
        f"or a leading dim, seq binds {'/'.join(sorted(SEQ_NAMES))})"
    )


def bound_shapes(p: Params) -> dict[str, tuple[int, ...]]:
    """Each input's concrete shape: fixed dims as declared, symbolic ones bound by the params."""
    path, specs = p["model"], signature(p["model"])
    explicit = _explicit_dims(p["dims"])
    symbols = {d for s in specs for d in s.shape or () if isinstance(d, str)}
    if set(explicit) - symbols:
        raise ConfigError(
            f"parameter 'dims' binds {sorted(set(explicit) - symbols)} but {path} has no such "
            f"symbolic dims (it has: {', '.join(sorted(symbols)) or 'none'})"
        )
    leading = {s.shape[0] for s in specs if s.shape and isinstance(s.shape[0], str)}
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        if spec.shape is None:
            raise ConfigError(
                f"{path}: input '{spec.name}' declares no shape; feed it from a file: "
                "-p inputs=inputs.npz"
            )
        dims: list[int] = []
        for d in spec.shape:
            value = d if isinstance(d, int) else _symbol_value(d, d in leading, p, explicit)
            if value is None:
                raise _unbound(path, spec, str(d))
            dims.append(value)
        shapes[spec.name] = tuple(dims)
    return shapes


def _feed_shapes(p: Params) -> dict[str, tuple[int, ...]]:
    """The shapes actually fed: from the .npz when `inputs` is given, else the bound ones."""
    if p["inputs"]:
        return {name: a.shape for name, a in _read_inputs(p).items()}
    return bound_shapes(p)


# ---------------------------------------------------------------------------- inputs


def _read_npz(path: str) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"inputs file {path!r} cannot be read ({exc}); write it with numpy.savez"
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ConfigError(
            f"inputs file {path!r} is a single array, not an .npz; write it with "
            "numpy.savez(path, input_name=array, ...)"
        )
    with data:
        return {name: data[name] for name in data.files}


def _conform(path: str, spec: InputSpec, array: np.ndarray) -> np.ndarray:
    """Cast an array read from an .npz to the input's dtype and check its fixed dims."""
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(spec.elem_type))
    if not np.can_cast(array.dtype, dtype, "same_kind"):
        raise ConfigError(
            f"inputs file {path!r}: array '{spec.name}' is {array.dtype}, the model wants {dtype}"
        )
    fixed_ok = spec.shape is None or (
        len(spec.shape) == array.ndim
        and all(isinstance(d, str) or d == n for d, n in zip(spec.shape, array.shape, strict=True))
    )
    if not fixed_ok:
        raise ConfigError(
            f"inputs file {path!r}: array '{spec.name}' has shape {array.shape}, "
            f"the model declares {list(spec.shape or ())}"
        )
    return array.astype(dtype, copy=False)


def _read_inputs(p: Params) -> Arrays:
    specs = signature(p["model"])
    arrays = _read_npz(p["inputs"])
    expected = [s.name for s in specs]
    if sorted(arrays) != sorted(expected):
        raise ConfigError(
            f"inputs file {p['inputs']!r} holds arrays {sorted(arrays)} but {p['model']} "
            f"expects inputs {expected}; save one array per input, under the input's name"
        )
    return {s.name: _conform(p["inputs"], s, arrays[s.name]) for s in specs}


def _random(spec: InputSpec, shape: tuple[int, ...], p: Params, rng: np.random.Generator) -> Any:
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(spec.elem_type))
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        # int_high may exceed a narrow type (int8 ids): stay inside its range.
        high = min(int(p["int_high"]), int(np.iinfo(dtype).max) + 1)
        return rng.integers(0, high, size=shape, dtype=dtype)
    if dtype.kind in "fcV":  # "V": ml_dtypes floats such as bfloat16
        return rng.standard_normal(shape).astype(dtype)
    raise ConfigError(
        f"{p['model']}: input '{spec.name}' is {dtype}, which cannot be drawn at random; "
        "feed it from a file: -p inputs=inputs.npz"
    )


def make_inputs(p: Params, rng: np.random.Generator) -> Arrays:
    """Seeded random data for every input at the bound shapes, or the arrays of `inputs`."""
    if p["inputs"]:
        return _read_inputs(p)
    shapes = bound_shapes(p)
    return {s.name: _random(s, shapes[s.name], p, rng) for s in signature(p["model"])}


def check(p: Params) -> None:
    """Reject a missing model early; reading the signature turns bad dims into config errors."""
    if not p["model"]:
        raise ValueError(f"parameter 'model' is required: {_USAGE}")
    if not os.path.isfile(p["model"]):
        raise ValueError(f"model file not found: {p['model']!r} ({_USAGE} with an existing file)")
    if p["inputs"] and not os.path.isfile(p["inputs"]):
        raise ValueError(
            f"inputs file not found: {p['inputs']!r} (an .npz written with numpy.savez)"
        )
    _feed_shapes(p)


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

    try:
        return ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except _ort_errors() as exc:
        raise ConfigError(
            f"{path}: ONNX Runtime's CPU provider cannot load the model ({exc}); "
            f"check its opset and operators against onnxruntime {ort.__version__}"
        ) from None


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


def _inferred(p: Params) -> onnx.ModelProto | None:
    """The model with inputs at the fed shapes and shapes inferred; None if inference fails."""
    shapes = _feed_shapes(p)
    return _inferred_cached(*_file_key(p["model"]), tuple(sorted(shapes.items())))


@functools.lru_cache(maxsize=8)
def _inferred_cached(
    path: str, mtime_ns: int, size: int, shapes: tuple[tuple[str, tuple[int, ...]], ...]
) -> onnx.ModelProto | None:
    bound = onnx.ModelProto()
    bound.CopyFrom(_load_cached(path, mtime_ns, size))
    fed = dict(shapes)
    for vi in bound.graph.input:
        if vi.name in fed:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for value in fed[vi.name]:
                dims.add().dim_value = value
    try:
        return shape_inference.infer_shapes(bound, data_prop=True)
    except shape_inference.InferenceError:
        return None


def _static_shape(vi: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    if vi.type.WhichOneof("value") != "tensor_type" or not vi.type.tensor_type.HasField("shape"):
        return None
    dims = vi.type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        return None
    return tuple(d.dim_value for d in dims)


def _known_shapes(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    for vi in (*graph.input, *graph.value_info, *graph.output):
        shape = _static_shape(vi)
        if shape is not None:
            shapes[vi.name] = shape
    return shapes


Shapes = dict[str, tuple[int, ...]]


def _matmul_flops(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
    if not a or not b:
        return None
    # numpy matmul semantics: a 1-D operand is a row (a) or a column (b); batch dims broadcast.
    m = a[-2] if len(a) > 1 else 1
    n = b[-1] if len(b) > 1 else 1
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return 2 * math.prod(batch) * m * n * a[-1]


def _gemm_flops(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
    if a is None or b is None or len(a) != 2 or len(b) != 2:
        return None
    attrs = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    m, k = (a[1], a[0]) if attrs.get("transA", 0) else a
    n = b[0] if attrs.get("transB", 0) else b[1]
    return 2 * m * n * k


def _conv_flops(node: onnx.NodeProto, shapes: Shapes) -> int | None:
    w, y = shapes.get(node.input[1]), shapes.get(node.output[0])
    if w is None or y is None:
        return None
    # Each of N*Cout*Hout*Wout outputs is a dot product over Cin/group * kH * kW taps.
    return 2 * math.prod(y) * math.prod(w[1:])


_FLOP_COUNTERS: dict[str, Callable[[onnx.NodeProto, Shapes], int | None]] = {
    "MatMul": _matmul_flops,
    "Gemm": _gemm_flops,
    "Conv": _conv_flops,
}


def flops(p: Params) -> int | None:
    """2*M*N*K over the top-level MatMul, Gemm and Conv nodes; None if any shape is unknown."""
    model = _inferred(p)
    if model is None:
        return None
    shapes = _known_shapes(model.graph)
    total = 0
    for node in model.graph.node:
        counter = _FLOP_COUNTERS.get(node.op_type)
        if counter is None or node.domain not in ("", "ai.onnx"):
            continue
        count = counter(node, shapes)
        if count is None:
            return None
        total += count
    return total


def _nbytes(elem_type: int, shape: tuple[int, ...]) -> int:
    return math.prod(shape) * np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize


def _output_bytes(p: Params) -> int | None:
    model = _inferred(p)
    if model is None:
        return None
    shapes = [_static_shape(vi) for vi in model.graph.output]
    if any(s is None for s in shapes):
        return None
    return sum(
        _nbytes(vi.type.tensor_type.elem_type, s)
        for vi, s in zip(model.graph.output, shapes, strict=True)
        if s is not None
    )


def bytes_moved(p: Params) -> int:
    """Inputs at the fed shapes + initializers (from their dims) + outputs when inferable."""
    fed = _feed_shapes(p)
    inputs = sum(_nbytes(s.elem_type, fed[s.name]) for s in signature(p["model"]))
    weights = sum(_nbytes(t.data_type, tuple(t.dims)) for t in _load(p["model"]).graph.initializer)
    return inputs + weights + (_output_bytes(p) or 0)


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
    batch_param="batch",
)
