"""Inputs of a bring-your-own ONNX model: dims bound by name or position, .npz files, id ranges."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from onnx import helper

from bench.core.errors import ConfigError
from bench.core.workloads import Arrays, Params

# Symbolic dim names (compared lower-case) that the `batch` and `seq` parameters bind.
BATCH_NAMES = frozenset({"batch", "batch_size", "batchsize", "bs", "n"})
SEQ_NAMES = frozenset(
    {"seq", "sequence", "sequence_length", "seq_len", "seq_length", "tokens", "num_tokens"}
)
# Integer inputs whose names say they are masks or segment ids: 0 or 1, whatever int_high is.
BINARY_NAMES = ("attention_mask", "token_type_ids", "segment_ids", "input_mask", "mask")
FEEDABLE_KINDS = "biuf"  # what ONNX Runtime's Python API takes as numpy arrays


@dataclass(frozen=True)
class InputSpec:
    """One input a caller feeds: name, numpy dtype name, shape (ints fixed, strings symbolic)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...] | None  # None: the model declares no rank
    elem_type: int  # onnx.TensorProto element type, which also covers ml_dtypes (bfloat16, ...)


Shapes = dict[str, tuple[int, ...]]


# ---------------------------------------------------------------------------- binding dims


@dataclass(frozen=True)
class DimBindings:
    """`-p dims=...`: symbolic names, and input:axis positions (which win over names)."""

    by_name: Mapping[str, int]
    by_position: Mapping[tuple[str, int], int]


def parse_dims(text: str, specs: Sequence[InputSpec]) -> DimBindings:
    """'name=value,input:axis=value': a position binds one dim even when names repeat ('?')."""
    inputs = {s.name: s for s in specs}
    by_name: dict[str, int] = {}
    by_position: dict[tuple[str, int], int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, value = item.rpartition("=")
        name = name.strip()
        if not sep or not name or not value.strip().isdigit():
            raise ConfigError(
                f"parameter 'dims' = {text!r}: {item!r} is not name=value with a whole number "
                "(examples: -p dims=past_len=0,heads=12 or, by position, -p dims=pixel_values:2=224)"
            )
        head, colon, axis = name.rpartition(":")
        if colon and axis.isdigit() and head in inputs:
            by_position[(head, int(axis))] = int(value)
        else:
            by_name[name] = int(value)
    _check_positions(by_position, inputs)
    return DimBindings(by_name, by_position)


def _check_positions(
    positions: Mapping[tuple[str, int], int], inputs: Mapping[str, InputSpec]
) -> None:
    for (name, axis), _ in positions.items():
        shape = inputs[name].shape
        if shape is None or axis >= len(shape):
            rank = "no declared rank" if shape is None else f"rank {len(shape)}"
            raise ConfigError(f"parameter 'dims' binds {name}:{axis} but '{name}' has {rank}")
        if isinstance(shape[axis], int):
            raise ConfigError(
                f"parameter 'dims' binds {name}:{axis} but that dim is fixed at {shape[axis]}"
            )


def _symbol_value(name: str, leading: bool, p: Params, dims: DimBindings) -> int | None:
    if name in dims.by_name:
        return dims.by_name[name]
    if name.lower() in BATCH_NAMES:
        return int(p["batch"])
    if name.lower() in SEQ_NAMES:
        return int(p["seq"])
    # A symbolic leading dim is the batch in nearly every exported model.
    return int(p["batch"]) if leading else None


def _unbound(path: str, spec: InputSpec, axis: int, name: str) -> ConfigError:
    return ConfigError(
        f"{path}: symbolic dim '{name}' of input '{spec.name}' is not bound; "
        f"bind it with -p dims={name}=VALUE or by position -p dims={spec.name}:{axis}=VALUE "
        f"(batch binds {'/'.join(sorted(BATCH_NAMES))} or a leading dim, "
        f"seq binds {'/'.join(sorted(SEQ_NAMES))})"
    )


def bound_shapes(path: str, specs: Sequence[InputSpec], p: Params) -> Shapes:
    """Each input's concrete shape: fixed dims as declared, symbolic ones bound by the params."""
    dims = parse_dims(p["dims"], specs)
    symbols = {d for s in specs for d in s.shape or () if isinstance(d, str)}
    if set(dims.by_name) - symbols:
        raise ConfigError(
            f"parameter 'dims' binds {sorted(set(dims.by_name) - symbols)} but {path} has no "
            f"such symbolic dims (it has: {', '.join(sorted(symbols)) or 'none'})"
        )
    leading = {s.shape[0] for s in specs if s.shape and isinstance(s.shape[0], str)}
    shapes: Shapes = {}
    for spec in specs:
        if spec.shape is None:
            raise ConfigError(
                f"{path}: input '{spec.name}' declares no shape; feed it from a file: "
                "-p inputs=inputs.npz"
            )
        out: list[int] = []
        for axis, d in enumerate(spec.shape):
            value = dims.by_position.get((spec.name, axis))
            if value is None:
                value = d if isinstance(d, int) else _symbol_value(d, d in leading, p, dims)
            if value is None:
                raise _unbound(path, spec, axis, str(d))
            out.append(value)
        shapes[spec.name] = tuple(out)
    return shapes


# ---------------------------------------------------------------------------- .npz files


def read_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of an .npz; a damaged or foreign file is a ConfigError naming it."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ConfigError(
                f"inputs file {path!r} is a single array, not an .npz; write it with "
                "numpy.savez(path, input_name=array, ...)"
            )
        with data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ConfigError(
            f"inputs file {path!r} cannot be read ({type(exc).__name__}: {exc}); "
            "write it with numpy.savez(path, input_name=array, ...)"
        ) from None


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


def read_inputs(model: str, specs: Sequence[InputSpec], npz: str) -> Arrays:
    """The arrays of `npz`, one per input under its name, at the inputs' dtypes."""
    arrays = read_npz(npz)
    expected = [s.name for s in specs]
    if sorted(arrays) != sorted(expected):
        raise ConfigError(
            f"inputs file {npz!r} holds arrays {sorted(arrays)} but {model} "
            f"expects inputs {expected}; save one array per input, under the input's name"
        )
    return {s.name: _conform(npz, s, arrays[s.name]) for s in specs}


def batch_of(specs: Sequence[InputSpec], arrays: Mapping[str, np.ndarray]) -> int | None:
    """Samples in one call of fed arrays: the leading dim of an input whose leading dim is free."""
    for s in specs:
        if (s.shape is None or (s.shape and isinstance(s.shape[0], str))) and arrays[s.name].ndim:
            return int(arrays[s.name].shape[0])
    return None


# ---------------------------------------------------------------------------- random inputs


def parse_int_ranges(text: str, specs: Sequence[InputSpec]) -> dict[str, tuple[int, int]]:
    """`-p int_range=input_ids:0:30521,token_type_ids:0:1`: inclusive bounds per input."""
    integer = {s.name for s in specs if np.dtype(s.dtype).kind in "iub"}
    out: dict[str, tuple[int, int]] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, lo, hi = (item.rsplit(":", 2) + ["", ""])[:3]
        if not _is_int(lo) or not _is_int(hi) or int(lo) > int(hi):
            raise ConfigError(
                f"parameter 'int_range' = {text!r}: {item!r} is not name:low:high with "
                "whole numbers, low <= high (example: -p int_range=input_ids:0:30521)"
            )
        if name not in integer:
            raise ConfigError(
                f"parameter 'int_range' names '{name}', which is not an integer input "
                f"(integer inputs: {', '.join(sorted(integer)) or 'none'})"
            )
        out[name] = (int(lo), int(hi))
    return out


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def int_bounds(
    spec: InputSpec, p: Params, ranges: Mapping[str, tuple[int, int]]
) -> tuple[int, int]:
    """Inclusive bounds for an integer input: int_range, else by its name, else [0, int_high)."""
    dtype = np.dtype(spec.dtype)
    if spec.name in ranges:
        lo, hi = ranges[spec.name]
    elif dtype.kind == "b" or spec.name.lower().endswith(BINARY_NAMES):
        lo, hi = 0, 1
    elif "position" in spec.name.lower():
        lo, hi = 0, int(p["seq"]) - 1
    else:
        lo, hi = 0, int(p["int_high"]) - 1
    if dtype.kind == "b":
        return max(lo, 0), min(hi, 1)
    info = np.iinfo(dtype)
    # A narrow type (int8 ids) cannot hold int_high: stay inside its range.
    return max(lo, int(info.min)), min(hi, int(info.max))


def random_input(
    spec: InputSpec, shape: tuple[int, ...], p: Params, ranges: Mapping[str, tuple[int, int]],
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    dtype = np.dtype(spec.dtype)
    if dtype.kind in "iub":
        lo, hi = int_bounds(spec, p, ranges)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)
