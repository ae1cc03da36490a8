"""WorkloadSpec: named parameters, seeded inputs, float64 reference, tolerance, flops and bytes."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Literal

import numpy as np

from bench.core.errors import ConfigError

Params = Mapping[str, Any]
Arrays = dict[str, np.ndarray]
Bound = Literal["compute", "memory"]

DTYPES = ("float16", "float32", "float64")
# Relative-error tolerance per dtype (||out - ref|| / ||ref||); a kernel may override.
DEFAULT_TOLERANCE: Mapping[str, float] = MappingProxyType(
    {"float16": 2e-2, "float32": 1e-4, "float64": 1e-10}
)


@dataclass(frozen=True)
class Param:
    """One named parameter of a workload (or option of a backend)."""

    name: str
    default: Any
    kind: type = int
    unit: str = ""
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None

    def coerce(self, value: Any, owner: str) -> Any:
        """Turn a config or command-line value into this parameter's type, or raise ConfigError."""
        try:
            if self.kind is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                out: Any = value.lower() in ("true", "1", "yes")
            elif self.kind is int and (
                isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())
            ):
                raise ValueError(value)
            else:
                out = self.kind(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{owner}: parameter '{self.name}' must be {self.kind.__name__}, got {value!r}"
            ) from None
        if self.choices is not None and out not in self.choices:
            known = ", ".join(map(str, self.choices))
            raise ConfigError(f"{owner}: parameter '{self.name}' = {out!r} (choose from: {known})")
        if self.minimum is not None and out < self.minimum:
            raise ConfigError(
                f"{owner}: parameter '{self.name}' = {out!r} is below its minimum {self.minimum}"
            )
        return out


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything the harness knows about one workload; kernels/<name>.py supplies the pieces."""

    name: str
    doc: str
    params: tuple[Param, ...]
    make_inputs: Callable[[Params, np.random.Generator], Arrays]
    reference: Callable[[Arrays, Params], Any]
    flops: Callable[[Params], int | None]
    bytes_moved: Callable[[Params], int]
    compute: Callable[[ModuleType, Mapping[str, Any], Params], Any] | None = None
    build_onnx: Callable[[Params], Any] | None = None
    check: Callable[[Params], None] | None = None
    tolerance: Mapping[str, float] = field(default_factory=lambda: DEFAULT_TOLERANCE)
    batch_param: str | None = None  # samples per call: throughput counts samples, not calls
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    work_param: str | None = None  # the parameter the work grows linearly with
    bound: Bound | None = None  # what limits it at its default size: FLOP/s or bytes/s
    measures_peak: bool = False  # a pure kernel whose rate is the machine's ceiling for its bound

    def accepts(self, key: str) -> bool:
        return any(p.name == key for p in self.params) or (key == "preset" and bool(self.presets))

    def param(self, name: str, owner: str = "") -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params)
        owner = owner or f"workload '{self.name}'"
        raise ConfigError(f"{owner} has unknown parameter '{name}' (known: {known})")

    def resolve(self, overrides: Mapping[str, Any] | None = None, owner: str = "") -> Params:
        """Defaults, then a `preset`, then overrides; typed, validated and frozen."""
        owner = owner or f"workload '{self.name}'"
        values = {p.name: p.default for p in self.params}
        overrides = dict(overrides or {})
        preset = overrides.pop("preset", None)
        if preset is not None:
            if preset not in self.presets:
                known = ", ".join(self.presets) or "none"
                raise ConfigError(f"{owner}: unknown preset '{preset}' (known: {known})")
            values.update(self.presets[preset])
        for key, value in overrides.items():
            values[key] = self.param(key, owner).coerce(value, owner)
        resolved = {p.name: p.coerce(values[p.name], owner) for p in self.params}
        if self.check is not None:
            try:
                self.check(resolved)
            except ValueError as exc:
                raise ConfigError(f"{owner}: {exc}") from None
        return MappingProxyType(resolved)

    def tolerance_for(self, dtype: str) -> float:
        return self.tolerance.get(dtype, DEFAULT_TOLERANCE.get(dtype, 1e-4))


# name -> module path; importing a kernel happens only when it is used.
KERNELS: Mapping[str, str] = MappingProxyType(
    {
        "gemm": "kernels.gemm",
        "triad": "kernels.triad",
        "copy": "kernels.copy",
        "softmax": "kernels.softmax",
        "layernorm": "kernels.layernorm",
        "attention": "kernels.attention",
        "mlp": "kernels.mlp",
        "conv2d": "kernels.conv2d",
        "decoder": "kernels.decoder",
        "onnx": "kernels.onnx_model",
    }
)


def get(name: str) -> WorkloadSpec:
    """The spec of workload `name`; an unknown name lists the known ones."""
    if name not in KERNELS:
        raise ConfigError(f"unknown workload '{name}' (known: {', '.join(KERNELS)})")
    module = importlib.import_module(KERNELS[name])
    spec: WorkloadSpec = module.SPEC
    return spec


def all_specs() -> list[WorkloadSpec]:
    return [get(name) for name in KERNELS]


def as_outputs(value: Any) -> tuple[np.ndarray, ...]:
    """Normalise a kernel's or backend's result to a tuple of host arrays."""
    if isinstance(value, Mapping):
        value = tuple(value.values())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return tuple(np.asarray(v) for v in value)
    return (np.asarray(value),)


def relative_error(outputs: Any, reference: Any) -> float:
    """max over outputs of ||out - ref|| / ||ref|| in float64; NaN or shape mismatch -> inf."""
    outs, refs = as_outputs(outputs), as_outputs(reference)
    if len(outs) != len(refs):
        return float("inf")
    worst = 0.0
    for out, ref in zip(outs, refs, strict=True):
        if out.shape != ref.shape:
            return float("inf")
        o, r = out.astype(np.float64), ref.astype(np.float64)
        if not np.all(np.isfinite(o)):
            return float("inf")
        denom = float(np.linalg.norm(r)) or 1.0
        worst = max(worst, float(np.linalg.norm(o - r)) / denom)
    return worst


def seeded_inputs(spec: WorkloadSpec, params: Params, seed: int) -> Arrays:
    """Inputs from a generator seeded by `seed` and the workload's name (stable across runs)."""
    rng = np.random.default_rng([seed, *spec.name.encode()])
    return spec.make_inputs(params, rng)
