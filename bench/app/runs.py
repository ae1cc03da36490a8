"""Orchestration of a run, shared by the CLI and the pytest plugin: plan, record, execute, keep."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import backends as registry
from bench.core import config as configmod
from bench.core import fingerprint, records, resources, store, workloads
from bench.core.config import Planned
from bench.core.errors import BenchError, ConfigError
from bench.core.params import check_keys
from bench.core.policy import Policy, check_policy
from bench.runner.clock import new_run_id, wall_iso
from bench.runner.session import Session


@dataclass(frozen=True)
class BackendStatus:
    """One registered backend: can it run here, and if not, why."""

    name: str
    available: bool
    reason: str
    local: bool


def backend_statuses() -> list[BackendStatus]:
    """Every registered backend with its probe's answer (a failing import is a reason too)."""
    rows = []
    for name in registry.names():
        try:
            backend = registry.create(name)
            avail = backend.probe()
            local = bool(getattr(backend, "local", False))
            rows.append(BackendStatus(name, avail.ok, avail.reason, local))
        except BenchError as exc:
            rows.append(BackendStatus(name, False, str(exc), False))
    return rows


def select_backends(
    requested: Sequence[str], named: Sequence[str] = (), *, purpose: str = "run"
) -> list[str]:
    """The one backend choice: named ones must exist and be available (and local to be
    calibrated); none requested -> every available local backend but `null`."""
    rows = {r.name: r for r in backend_statuses()}
    for name in dict.fromkeys([*requested, *named]):
        check_keys([name], set(rows), "", "backend")
        row = rows[name]
        if not row.available:
            raise ConfigError(f"backend '{name}' is not available here: {row.reason}")
        if purpose == "calibrate" and not row.local:
            raise ConfigError(f"backend '{name}' cannot be calibrated: it is a remote endpoint")
    if requested:
        return list(dict.fromkeys(requested))
    return [r.name for r in rows.values() if r.available and r.local and r.name != "null"]


def route_backend_options(
    pairs: Mapping[str, Sequence[str]], chosen: Sequence[str]
) -> dict[str, dict[str, str]]:
    """`name.key=value` targets one backend of the run; plain `key=value` every chosen one
    that declares the option. An option nobody in the run takes is an error."""
    routed: dict[str, dict[str, str]] = {}
    for key, values in pairs.items():
        target, dot, opt = key.rpartition(".")
        if dot and target not in chosen:
            raise ConfigError(
                f"--backend-opt {key}: backend '{target}' is not in this run "
                f"(running: {', '.join(chosen) or 'none'}); add -b {target} or drop the option"
            )
        targets = [target] if dot else list(chosen)
        takers = [t for t in targets if opt in _option_names(t)]
        if not takers:
            known = sorted({o for t in targets for o in _option_names(t)})
            raise ConfigError(
                f"--backend-opt {key}: no backend in this run has option '{opt}' "
                f"(known: {', '.join(known) or 'none'})"
            )
        for t in takers:
            routed.setdefault(t, {})[opt] = values[-1]
    return routed


def _option_names(backend: str) -> set[str]:
    return {p.name for p in registry.load(backend).options_spec}


@dataclass(frozen=True)
class TimingFlags:
    """--min-time, --min-samples, --max-time, --target-ci: each, when given, beats the suite."""

    min_time_s: float | None = None
    min_samples: int | None = None
    max_time_s: float | None = None
    target_ci: float | None = None

    def apply(self, policy: Policy) -> Policy:
        return dataclasses.replace(
            policy,
            min_time_s=policy.min_time_s if self.min_time_s is None else self.min_time_s,
            min_samples=policy.min_samples if self.min_samples is None else self.min_samples,
            max_time_s=policy.max_time_s if self.max_time_s is None else self.max_time_s,
            target_ci=policy.target_ci if self.target_ci is None else self.target_ci,
        )


@dataclass(frozen=True)
class RunRequest:
    """What the user asked `run` for, flags already split into pairs."""

    configs: tuple[Path, ...] = ()
    workload: str | None = None
    backends: tuple[str, ...] = ()
    params: Mapping[str, list[str]] = field(default_factory=dict)
    backend_opts: Mapping[str, list[str]] = field(default_factory=dict)
    scenario: str | None = None
    quick: bool = False
    input_sets: int | None = None
    timing: TimingFlags = TimingFlags()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalPlan:
    suite: configmod.Suite
    chosen: list[str]
    planned: list[Planned]
    policy: Policy


def default_suite() -> Path:
    """The shipped default suite (an explicit CONFIG always wins)."""
    return resources.shipped("default.toml")


def build_suite(
    configs: Sequence[Path], workload: str | None, params: Mapping[str, list[str]]
) -> configmod.Suite:
    """Suites from files (the first one's run settings lead), or one from -w and -p."""
    if not configs and workload:
        spec = workloads.get(workload)
        for key in params:
            if not spec.accepts(key):
                spec.param(key)  # raises, naming the known parameters
        case = {
            "workload": workload,
            "params": {k: v if len(v) > 1 else v[0] for k, v in params.items()},
        }
        return configmod.parse({"case": [case]}, f"-w {workload}")
    suites = [configmod.load(p) for p in (configs or [default_suite()])]
    cases = tuple(c for s in suites for c in s.cases if workload in (None, c.workload))
    if not cases:
        raise ConfigError(f"no case of workload '{workload}' in {', '.join(map(str, configs))}")
    for key in params:
        if not any(workloads.get(c.workload).accepts(key) for c in cases):
            names = sorted({c.workload for c in cases})
            raise ConfigError(
                f"-p {key}: no workload in this run has parameter '{key}' ({', '.join(names)})"
            )
    return dataclasses.replace(suites[0], cases=cases)


def select_cases(planned: list[Planned], patterns: Sequence[str]) -> list[Planned]:
    """-k: keep the cases whose id contains a pattern (or matches it, when it has * or ?;
    brackets are literal, so `-k 'gemm[m=256'` works)."""
    from bench.app.history import matches

    if not patterns:
        return planned
    kept = [p for p in planned if any(matches(p.case_id, pat) for pat in patterns)]
    if not kept:
        shown = ", ".join(p.case_id for p in planned[:3])
        raise ConfigError(
            f"-k {' -k '.join(patterns)}: no case matches (case ids look like: {shown})"
        )
    return kept


def plan_local(req: RunRequest) -> LocalPlan:
    """Suite, backends, options, cases and policy: every check done before anything runs."""
    suite = build_suite(req.configs, req.workload, req.params)
    named = [*(suite.backends or ()), *(n for c in suite.cases for n in c.backends or ())]
    chosen = select_backends(req.backends, () if req.backends else named)
    if req.input_sets is not None and req.input_sets < 1:
        raise ConfigError(f"--input-sets {req.input_sets}: must be at least 1")
    opts = {**suite.backend_options, **route_backend_options(req.backend_opts, chosen)}
    suite = dataclasses.replace(
        suite, backend_options=opts, input_sets=req.input_sets or suite.input_sets
    )
    planned = configmod.expand(
        suite, chosen, req.quick, req.scenario, dict(req.params), only=req.backends
    )
    planned = select_cases(planned, req.patterns)
    policy = suite.quick_policy if req.quick else suite.policy
    policy = req.timing.apply(policy)
    return LocalPlan(suite, chosen, planned, check_policy(policy, "timing flags"))


def case_configs(planned: Iterable[Any]) -> tuple[records.CaseConfig, ...]:
    """The resolved cases as stored: local (Planned) and chat cases alike."""
    return tuple(
        records.case_config(p) if isinstance(p, Planned) else records.CaseConfig(
            workload="chat", params=dict(p.params), backend=p.backend, options=dict(p.options),
            scenario=p.load.mode, load=dataclasses.asdict(p.load),
        )
        for p in planned
    )  # fmt: skip


def new_record(
    kind: records.RunKind,
    command: str,
    source: str,
    seed: int,
    planned: Sequence[Any],
    described: Mapping[str, Any],
    id_prefix: str = "",
    quick: bool = False,
    input_sets: int = 1,
    policy: Policy | None = None,
) -> records.RunRecord:
    """The resolved config of a local, chat or calibrate run, as records.new_run() keeps it
    with the fingerprint and the backends' descriptions, before any case."""
    config = records.RunConfig(
        kind=kind, command=command, source=source, seed=seed, quick=quick,
        input_sets=input_sets, policy=policy, cases=case_configs(planned),
    )  # fmt: skip
    stamp = wall_iso()
    run_id = new_run_id(stamp, id_prefix)
    return records.new_run(config, fingerprint.collect(), described, stamp, run_id)


def local_record(plan: LocalPlan, command: str, quick: bool) -> records.RunRecord:
    suite = plan.suite
    described = {name: registry.describe(name) for name in plan.chosen}
    return new_record(
        "run", command, suite.source, suite.seed, plan.planned, described,
        quick=quick, input_sets=suite.input_sets, policy=plan.policy,
    )  # fmt: skip


class RunInterrupted(Exception):
    """Ctrl-C during a run: the record, saved as interrupted, keeps every finished case."""

    def __init__(self, record: records.RunRecord, path: Path) -> None:
        super().__init__(f"interrupted: {len(record.cases)} finished case(s) kept in {path}")
        self.record, self.path = record, path


Progress = Callable[[int, records.CaseResult], None]


def execute(
    record: records.RunRecord,
    planned: Sequence[Any],
    session: Session,
    path: Path,
    progress: Progress | None = None,
) -> records.RunRecord:
    """Run every case; save after each one; Ctrl-C saves what finished and raises
    RunInterrupted."""
    store.save(record, path)
    try:
        for i, result in enumerate(session.run(planned)):
            record = record.with_case(result)
            store.save(record, path)
            if progress is not None:
                progress(i, result)
    except KeyboardInterrupt:
        record = record.finish(wall_iso(), "interrupted")
        store.save(record, path)
        raise RunInterrupted(record, path) from None
    finally:
        session.close()
    record = record.finish(wall_iso(), "complete")
    store.save(record, path)
    return record


def run_local(
    plan: LocalPlan,
    command: str,
    out_dir: Path,
    quick: bool,
    progress: Progress | None = None,
) -> tuple[records.RunRecord, Path]:
    """Measure a planned local run into a new results file in `out_dir`."""
    from bench.runner.local import LocalSession

    out = store.prepare_dir(out_dir)
    record = local_record(plan, command, quick)
    path = store.run_path(out, record)
    session = LocalSession(plan.policy, plan.suite.seed, plan.suite.input_sets)
    return execute(record, plan.planned, session, path, progress), path


def results_path(name: Path, results_dir: Path) -> Path:
    """A results file, or `latest`: the newest run (not a calibration) in `results_dir`."""
    if str(name) != "latest" or name.exists():
        return name
    newest = store.latest(results_dir)
    if newest is None:
        raise ConfigError(f"latest: no results file in {results_dir}/ yet; run `accelbench run`")
    return newest


def run_one(
    workload: str,
    backend: str,
    params: Mapping[str, Any],
    options: Mapping[str, Any],
    scenario: str,
    policy: Policy,
    seed: int = 0,
    input_sets: int = 1,
) -> tuple[records.CaseResult, Any]:
    """One case measured as `run` measures it (the pytest fixture's path): the result and
    the backend's description. An unavailable backend raises BackendUnavailable."""
    from bench.core.errors import BackendUnavailable
    from bench.runner.local import matched_inputs, run_case

    spec = workloads.get(workload)
    resolved = spec.resolve(dict(params))
    instance = registry.create(backend, dict(options))
    avail = instance.probe()
    if not avail.ok:
        raise BackendUnavailable(f"backend '{backend}' is not available: {avail.reason}")
    planned = Planned(spec, resolved, backend, instance.options, scenario)
    try:
        matched = matched_inputs(planned, seed, input_sets)
        return run_case(instance, planned, matched, policy), instance.describe()
    finally:
        instance.close()
