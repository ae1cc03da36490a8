"""Orchestration of the claims commands: the registry, calibration runs, reach and verdicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import backends as registry
from bench.app import runs
from bench.claims import geo
from bench.core import records, resources, store, workloads
from bench.core.errors import ConfigError


def claims_registry(path: Path | None) -> Any:
    """The --registry file, or the shipped configs/claims.toml."""
    from bench.claims import registry

    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: no claims registry there; pass --registry FILE")
        return registry.load(path)
    return registry.load(resources.shipped("claims.toml"))


@dataclass(frozen=True)
class CalibrationPlan:
    registry: Any
    against: list[records.RunRecord]
    described: dict[str, dict[str, Any]]
    planned: list[Any]
    policy: Any
    quick: bool


@dataclass(frozen=True)
class Calibration:
    record: records.RunRecord
    path: Path
    checks: Any  # the ceilings against the registry's datasheet figures
    fractions: Any | None  # the --against runs' cases as fractions of the ceilings


def plan_calibration(
    backends: Sequence[str], dtypes: Sequence[str], quick: bool, against: Sequence[Path]
) -> CalibrationPlan:
    """What to measure on which backend; the registry and the runs to compare, read first."""
    from bench.runner import calibrate as cal

    for dtype in dtypes:
        if dtype not in workloads.DTYPES:
            raise ConfigError(f"--dtype {dtype}: choose from {', '.join(workloads.DTYPES)}")
    reg, base_runs = claims_registry(None), [store.load(p) for p in against]  # fail early
    names = runs.select_backends(backends, purpose="calibrate")
    described = {n: registry.describe(n) for n in names}
    planned = cal.plan({n: d["device"] for n, d in described.items()}, dtypes or None, quick)
    policy = cal.QUICK_POLICY if quick else cal.POLICY
    return CalibrationPlan(reg, base_runs, described, planned, policy, quick)


def calibrate(
    plan: CalibrationPlan, out_dir: Path, command: str, progress: runs.Progress | None = None
) -> Calibration:
    """Measure this machine's ceilings and hold them against the registry's figures."""
    from bench.claims.ceilings import ceilings_from_record
    from bench.claims.verdicts import case_fractions, ceiling_checks
    from bench.runner.local import LocalSession

    record = runs.new_record(
        records.CALIBRATION_KIND, command, "accelbench calibrate", 0, plan.planned,
        plan.described, id_prefix="calibration-", quick=plan.quick,
        policy=plan.policy,
    )  # fmt: skip
    path = store.run_path(store.prepare_dir(out_dir), record)
    record = runs.execute(record, plan.planned, LocalSession(plan.policy), path, progress)
    ceilings = ceilings_from_record(record)
    checks = ceiling_checks(plan.registry, ceilings)
    fractions = case_fractions(plan.registry, plan.against, ceilings) if plan.against else None
    return Calibration(record, path, checks, fractions)


@dataclass(frozen=True)
class ReachRequest:
    site: str
    lat: float | None
    lon: float | None
    budget_ms: float
    round_trip: bool
    route_factors: tuple[float, ...]
    fibre_km_per_ms: float | None
    server_ms: float
    population: float | None
    registry_path: Path | None


def _reach_site(gaz: Any, req: ReachRequest) -> Any:
    if (req.lat is None) != (req.lon is None):
        raise ConfigError("--lat and --lon go together")
    if req.lat is not None and req.lon is not None:
        return geo.City(f"{req.lat:g},{req.lon:g}", "", req.lat, req.lon, 0.0)
    return geo.find_place(gaz, req.site)


def reach(req: ReachRequest) -> Any:
    """How many people live within the budget of a site, at each route factor."""
    from bench.claims import verdicts

    reg = claims_registry(req.registry_path)
    claim = next((e for e in reg.claims if e.test == "reach"), None)
    claimed = req.population or (claim.value if claim else None)
    if not claimed:
        raise ConfigError("no reach claim in the registry: pass --population")
    fibre = req.fibre_km_per_ms
    if fibre is None:
        fibre = verdicts.fibre_km_per_ms(reg)
    factors = req.route_factors or verdicts.ROUTE_FACTORS
    # The curve and the budget needed use the middle route factor given (1.5 by default).
    middle = sorted(factors)[len(factors) // 2]
    base = geo.LatencyBudget(req.budget_ms, req.round_trip, fibre, middle, req.server_ms)
    gaz = geo.from_geonames()
    combos = [(req.round_trip, f) for f in factors]
    bound, tolerance = (claim.bound, claim.tolerance) if claim else ("at_least", None)
    site = _reach_site(gaz, req)
    return verdicts.reach_study(
        gaz, site, base, claimed, reg.policy, combos, bound=bound, tolerance=tolerance
    )


def _assumptions(reg: Any, o: Mapping[str, Any]) -> Any:
    from bench.claims.projections import CapacityAssumptions
    from bench.claims.verdicts import Assumptions, fibre_km_per_ms

    reg.device(o["gpu"])  # an unknown device id fails here, with the known ones
    # The budget itself comes from the claim (latency_ms); these are the conditions around it.
    budget = geo.LatencyBudget(
        round_trip=o["round_trip"],
        fibre_km_per_ms=o["fibre_km_per_ms"] or fibre_km_per_ms(reg),
        route_factor=o["route_factor"],
        last_mile_ms=o["last_mile_ms"],
    )
    capacity = CapacityAssumptions(
        o["model"], o["bytes_per_param"], o["utilization"], o["user_speed"], o["gpu"],
        o["cerebras_systems"], o["context_tokens"],
    )  # fmt: skip
    return Assumptions(o["site"], budget, capacity)


@dataclass(frozen=True)
class ClaimsReport:
    report: Any
    paths: list[Path]


def claims_report(
    registry_path: Path | None,
    results: Sequence[Path],
    calibrations: Sequence[Path],
    results_dir: Path,
    assume: Mapping[str, Any],
) -> ClaimsReport:
    """Every claim's verdict from the named runs (default: the newest run and calibration)."""
    from bench.claims import evidence, verdicts

    reg = claims_registry(registry_path)
    paths = list(results) or [p for p in [store.latest(results_dir)] if p]
    paths += list(calibrations) or [p for p in [store.latest(results_dir, calibration=True)] if p]
    ev = evidence.gather(store.load(p) for p in paths)
    report = verdicts.build(reg, ev, geo.from_geonames(), _assumptions(reg, assume))
    return ClaimsReport(report, paths)
