"""WorkloadSpec: named parameters, seeded inputs, float64 reference, tolerance, flops and bytes."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Literal

import numpy as np

from bench.core import params as paramsmod
from bench.core.errors import ConfigError
from bench.core.params import Param, check_keys

Params = Mapping[str, Any]
Arrays = dict[str, np.ndarray]
Bound = Literal["compute", "memory"]

DTYPES = ("float16", "float32", "float64")
# Relative-error tolerance per dtype (||out - ref|| / ||ref||); a kernel may override.
DEFAULT_TOLERANCE: Mapping[str, float] = MappingProxyType(
    {"float16": 2e-2, "float32": 1e-4, "float64": 1e-10}
)


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
    batch_of: Callable[[Params], int] | None = None  # when the batch comes from data, not a param
    tolerance: Mapping[str, float] = field(default_factory=lambda: DEFAULT_TOLERANCE)
    batch_param: str | None = None  # samples per call: throughput counts samples, not calls
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    work_param: str | None = None  # the parameter the work grows linearly with
    bound: Bound | None = None  # what limits it at its default size: FLOP/s or bytes/s
    measures_peak: bool = False  # a pure kernel whose rate is the machine's ceiling for its bound

    def accepts(self, key: str) -> bool:
        return any(p.name == key for p in self.params) or (key == "preset" and bool(self.presets))

    def param(self, name: str, owner: str = "") -> Param:
        owner = owner or f"workload '{self.name}'"
        check_keys([name], [p.name for p in self.params], owner, "parameter", sep=" has ")
        return next(p for p in self.params if p.name == name)

    def resolve(self, overrides: Mapping[str, Any] | None = None, owner: str = "") -> Params:
        """Defaults, then a `preset`, then overrides; typed, validated and frozen."""
        owner = owner or f"workload '{self.name}'"
        overrides = dict(overrides or {})
        preset = overrides.pop("preset", None)
        chosen: Mapping[str, Any] = {}
        if preset is not None:
            check_keys([preset], list(self.presets), owner, "preset")
            chosen = self.presets[preset]
        # Overrides are checked against the declared names first, so a typo is named as such.
        check_keys(overrides, [p.name for p in self.params], owner, "parameter", sep=" has ")
        defaults = {p.name: p.default for p in self.params}
        resolved = paramsmod.resolve(self.params, {**defaults, **chosen, **overrides}, owner)
        if self.check is not None:
            try:
                self.check(resolved)
            except ValueError as exc:
                raise ConfigError(f"{owner}: {exc}") from None
        return resolved

    def tolerance_for(self, dtype: str) -> float:
        return self.tolerance.get(dtype, DEFAULT_TOLERANCE.get(dtype, 1e-4))

    def samples_per_call(self, params: Params) -> int:
        """What throughput counts per call: the workload's own batch, else its batch parameter."""
        if self.batch_of is not None:
            return self.batch_of(params)
        return int(params.get(self.batch_param, 1)) if self.batch_param else 1


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
    check_keys([name], list(KERNELS), "", "workload")
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
    """max over outputs of ||out - ref|| / ||ref|| in float64 over finite positions; a NaN or
    inf where the reference has none (or the other way round), or a shape mismatch -> inf."""
    outs, refs = as_outputs(outputs), as_outputs(reference)
    if len(outs) != len(refs):
        return float("inf")
    worst = 0.0
    for out, ref in zip(outs, refs, strict=True):
        if out.shape != ref.shape:
            return float("inf")
        o, r = out.astype(np.float64), ref.astype(np.float64)
        # NaN and +-inf pass only where the reference has the same one; the rest is compared.
        for test in (np.isnan, np.isposinf, np.isneginf):
            if not np.array_equal(test(o), test(r)):
                return float("inf")
        finite = np.isfinite(r)
        o, r = o[finite], r[finite]
        denom = float(np.linalg.norm(r)) or 1.0
        worst = max(worst, float(np.linalg.norm(o - r)) / denom)
    return worst


def seeded_inputs(spec: WorkloadSpec, params: Params, seed: int) -> Arrays:
    """Inputs from a generator seeded by `seed` and the workload's name (stable across runs)."""
    rng = np.random.default_rng([seed, *spec.name.encode()])
    return spec.make_inputs(params, rng)
