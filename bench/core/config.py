"""Config files: the one TOML reader; suites parsed once into frozen, validated dataclasses."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bench.core import workloads
from bench.core.errors import ConfigError
from bench.core.params import check_keys, replace_typed
from bench.core.policy import QUICK, Policy

SCENARIOS = ("latency", "throughput")
_RUN_KEYS = {"scenario", "seed", "backends", "input_sets", "name"}
_CASE_KEYS = {"workload", "params", "quick", "backends", "scenario", "input_sets"}
TOP_KEYS = {"run", "policy", "quick_policy", "backend_options", "case"}


@dataclass(frozen=True)
class CaseSpec:
    """One [[case]] table: a workload, its params (lists sweep), optional quick params."""

    workload: str
    params: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    backends: tuple[str, ...] | None = None
    scenario: str | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    source: str
    cases: tuple[CaseSpec, ...]
    scenario: str = "latency"
    seed: int = 0
    input_sets: int = 1
    backends: tuple[str, ...] | None = None
    backend_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    policy: Policy = Policy()
    quick_policy: Policy = QUICK


@dataclass(frozen=True)
class Planned:
    """A fully resolved case, ready for the runner (inputs are made there)."""

    spec: workloads.WorkloadSpec
    params: Mapping[str, Any]
    backend: str
    options: Mapping[str, Any]
    scenario: str

    @property
    def case_id(self) -> str:
        shown = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.spec.name}[{shown}]@{self.backend}/{self.scenario}"


def read_text(path: str | Path, what: str = "config") -> str:
    """A config file's text; a missing or unreadable file is a ConfigError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Decoded TOML; a syntax error names `source` and tomllib's line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: malformed TOML: {exc}") from None


def read_toml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The one TOML reader: every config file, of every command, is decoded here."""
    return parse_toml(read_text(path, what), str(path))


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where} must be a list of names, e.g. ["numpy"], got {value!r}')
    return tuple(value)


def _rebase(params: Mapping[str, Any], spec: workloads.WorkloadSpec, base: Path) -> dict[str, Any]:
    """Path-valued params in a config file are relative to that file's folder."""
    out = dict(params)
    for p in spec.params:
        value = out.get(p.name)
        if p.unit == "path" and isinstance(value, str) and value and not Path(value).is_absolute():
            out[p.name] = str(base / value)
    return out


def _case(i: int, table: Any, where: str, base: Path | None = None) -> CaseSpec:
    here = f"{where}: case #{i + 1}"
    if not isinstance(table, dict) or "workload" not in table:
        raise ConfigError(
            f"{here}: every [[case]] needs a 'workload' (known: {', '.join(workloads.KERNELS)})"
        )
    check_keys(table, _CASE_KEYS, here)
    check_keys([table["workload"]], list(workloads.KERNELS), here, "workload")
    backends = table.get("backends")
    scenario = table.get("scenario")
    if scenario is not None:
        check_keys([scenario], SCENARIOS, here, "scenario")
    params, quick = dict(table.get("params", {})), dict(table.get("quick", {}))
    if base is not None:
        spec = workloads.get(str(table["workload"]))
        params, quick = _rebase(params, spec, base), _rebase(quick, spec, base)
    return CaseSpec(
        workload=str(table["workload"]),
        params=MappingProxyType(params),
        quick=MappingProxyType(quick),
        backends=_names(backends, f"{here}: backends") if backends is not None else None,
        scenario=scenario,
    )


def parse(data: Mapping[str, Any], source: str, base: Path | None = None) -> Suite:
    """A Suite from already-decoded TOML; every problem names the file and the key."""
    check_keys(data, TOP_KEYS, source)
    run = data.get("run", {})
    check_keys(run, _RUN_KEYS, f"{source}: [run]")
    scenario = run.get("scenario", "latency")
    check_keys([scenario], SCENARIOS, f"{source}: [run]", "scenario", sep=" ")
    cases = tuple(_case(i, t, source, base) for i, t in enumerate(data.get("case", [])))
    if not cases:
        raise ConfigError(f"{source}: no [[case]] tables: nothing to run")
    suite = Suite(
        name=str(run.get("name", Path(source).stem)),
        source=source,
        cases=cases,
        scenario=scenario,
        seed=int(run.get("seed", 0)),
        input_sets=int(run.get("input_sets", 1)),
        backends=_names(run["backends"], f"{source}: [run] backends")
        if run.get("backends")
        else None,
        backend_options=MappingProxyType(dict(data.get("backend_options", {}))),
        policy=replace_typed(Policy(), data.get("policy", {}), f"{source}: [policy]"),
        quick_policy=replace_typed(
            QUICK, data.get("quick_policy", {}), f"{source}: [quick_policy]"
        ),
    )
    for case in suite.cases:  # resolve now: a typo fails before anything runs
        spec = workloads.get(case.workload)
        for combo in _sweep(case.params):
            spec.resolve(combo, owner=f"{source}: workload '{case.workload}'")
        for key in case.quick:
            if not spec.accepts(key):
                spec.param(key, f"{source}: workload '{case.workload}'")  # raises, naming the known
    return suite


def load(path: str | Path) -> Suite:
    """A suite file; paths inside it (an ONNX model, an .npz) are relative to its folder."""
    return load_tables(path)[0]


def load_tables(
    path: str | Path, extra: Sequence[str] = ()
) -> tuple[Suite, dict[str, dict[str, Any]]]:
    """A suite file plus the `extra` tables other layers add to it (a gate's [gate], [ab]),
    each a table ({} when absent); the suite parser never sees them."""
    data = read_toml(path)
    tables = pop_tables(data, extra, str(path))
    return parse(data, str(path), base=Path(path).parent), tables


def pop_tables(
    data: dict[str, Any], names: Sequence[str], source: str
) -> dict[str, dict[str, Any]]:
    """Remove and return the named top-level tables ({} when absent) from decoded TOML."""
    out = {name: data.pop(name, {}) for name in names}
    for name, table in out.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
    return out


def _sweep(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Cartesian product over list-valued params (a list is a sweep)."""
    keys = list(params)
    values = [v if isinstance(v, list) else [v] for v in params.values()]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def expand(
    suite: Suite,
    available: Sequence[str],
    quick: bool = False,
    scenario: str | None = None,
    param_overrides: Mapping[str, list[Any]] | None = None,
    only: Sequence[str] | None = None,
) -> list[Planned]:
    """Every (workload, params, backend) combination, in config order; `only` (-b) beats all."""
    planned = []
    for case in suite.cases:
        spec = workloads.get(case.workload)
        params = {**case.params, **(case.quick if quick else {})}
        for key, values in (param_overrides or {}).items():
            if spec.accepts(key):
                params[key] = values if len(values) > 1 else values[0]
        backends = tuple(only or ()) or case.backends or suite.backends or tuple(available)
        for combo in _sweep(params):
            resolved = spec.resolve(combo, owner=f"{suite.source}: workload '{spec.name}'")
            for name in backends:
                options = suite.backend_options.get(name, {})
                chosen = scenario or case.scenario or suite.scenario
                planned.append(Planned(spec, resolved, name, options, chosen))
    return planned
