"""The null backend: does nothing, so the harness's own overhead can be measured."""

from __future__ import annotations

from typing import Any, ClassVar

from bench.backends.base import Availability, BackendInfo, Case, Prepared, resolve_options
from bench.core.workloads import Param


def _noop() -> None:
    return None


class NullBackend:
    """Every call is a no-op and its output is the reference itself (so checks pass)."""

    name: ClassVar[str] = "null"
    local: ClassVar[bool] = True
    options_spec: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = resolve_options(self.name, self.options_spec, options)

    def probe(self) -> Availability:
        return Availability(True)

    def describe(self) -> BackendInfo:
        return BackendInfo(self.name, "0", "none")

    def prepare(self, case: Case) -> Prepared:
        reference = case.workload.reference(case.input_sets[0], case.params)
        return Prepared(run=_noop, to_host=lambda _out: reference)

    def sync(self) -> None:
        return None

    def close(self) -> None:
        return None
