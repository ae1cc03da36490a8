"""The backend contract: probe, describe, prepare (untimed), sync (device fence), close."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from bench.core import params as paramsmod
from bench.core.workloads import Param, Params, WorkloadSpec


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and if not, why (in words a user can act on)."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class BackendInfo:
    """What goes into the fingerprint: library versions, device, providers."""

    name: str
    version: str
    device: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One workload at resolved params, on one backend with its options, in one scenario."""

    workload: WorkloadSpec
    params: Params
    backend: str
    options: Mapping[str, Any]
    scenario: str
    input_sets: tuple[dict[str, np.ndarray], ...]

    @property
    def dtype(self) -> str:
        return str(self.params.get("dtype", "float32"))


@dataclass(frozen=True)
class Prepared:
    """A ready-to-time call. `run()` does one call; `to_host(result)` brings its output back.

    `synchronous` means run() returns only when the work is done (CPU backends), so the
    runner need not call sync() between calls.
    """

    run: Callable[[], Any]
    to_host: Callable[[Any], Any]
    synchronous: bool = True
    threads: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    tolerance: float | None = None  # a looser error bound this backend's arithmetic needs


@runtime_checkable
class Backend(Protocol):
    name: ClassVar[str]
    options_spec: ClassVar[tuple[Param, ...]]

    def probe(self) -> Availability: ...
    def describe(self) -> BackendInfo: ...
    def prepare(self, case: Case) -> Prepared: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


def resolve_options(
    name: str, spec: tuple[Param, ...], given: Mapping[str, Any] | None
) -> Mapping[str, Any]:
    """Defaults plus `given`, typed; an unknown option names the known ones."""
    return paramsmod.resolve(spec, given, f"backend '{name}'", "option", sep=" has ")


def rotating(input_sets: tuple[Any, ...], call: Callable[[Any], Any]) -> Callable[[], Any]:
    """A zero-argument call that cycles through the prepared input sets (cache-cold mode)."""
    if len(input_sets) == 1:
        only = input_sets[0]
        return lambda: call(only)
    state = {"i": 0}
    count = len(input_sets)

    def run() -> Any:
        i = state["i"]
        state["i"] = (i + 1) % count
        return call(input_sets[i])

    return run
