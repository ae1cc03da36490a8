"""The reach claim: people within a latency budget of a site, with the server time runs measured."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from bench.claims import geo
from bench.claims.evidence import Evidence
from bench.claims.registry import Entry, Registry, Verdict, VerdictPolicy, ratio, verdict_for
from bench.claims.rows import Context, Row, judged, make_row
from bench.remote.protocol import Vendor

ROUTE_FACTORS = (1.0, 1.5, 2.0)
CURVE_MS = tuple(range(10, 210, 10))


@dataclass(frozen=True)
class ServerTime:
    """A server-side time (ms) a run offers: the vendor's own, or a client TTFT standing in."""

    ms: float
    origin: str
    vendor: Vendor
    own: bool  # the vendor's own queue + prompt time, not a client TTFT


def server_times(evidence: Evidence) -> list[ServerTime]:
    """Every server-side time the runs offer, with its origin, single-stream runs first.

    A vendor's own queue + prompt time is a server time; a synthetic endpoint's is what its
    script says; a Groq client TTFT also holds this machine's network path (an upper bound).
    """
    out: dict[tuple[Vendor, bool], ServerTime] = {}
    for o in sorted(evidence.remote, key=lambda o: o.concurrency):
        if o.server_ttft_s is not None:
            origin = f"{o.vendor} server-side time, run {o.run_id}"
            out.setdefault(
                (o.vendor, True), ServerTime(o.server_ttft_s * 1e3, origin, o.vendor, True)
            )
        elif o.ttft_s is not None and o.vendor in ("groq", "synthetic"):
            why = (
                "loopback TTFT" if o.vendor == "synthetic" else "Groq client TTFT, network included"
            )
            origin = f"{why}, run {o.run_id}"
            out.setdefault((o.vendor, False), ServerTime(o.ttft_s * 1e3, origin, o.vendor, False))
    return list(out.values())


def verdict_server_time(evidence: Evidence) -> tuple[float, str]:
    """The server time the Groq verdict subtracts: Groq's own, or none (physics only)."""
    for t in server_times(evidence):
        if t.vendor == "groq" and t.own:
            return t.ms, t.origin
    return 0.0, "physics only: no Groq run reported its server-side time"


def other_server_times(evidence: Evidence, origin: str) -> list[tuple[float, str]]:
    """(ms, origin) of every server time but the verdict's own (`origin`)."""
    return [(t.ms, t.origin) for t in server_times(evidence) if t.origin != origin]


def reach_budget(e: Entry | None, ctx: Context) -> tuple[geo.LatencyBudget, str]:
    budget = ctx.assumptions.budget
    if e is not None and isinstance(e.conditions.get("latency_ms"), int | float):
        budget = dataclasses.replace(budget, budget_ms=float(e.conditions["latency_ms"]))
    ms, origin = verdict_server_time(ctx.evidence)
    return dataclasses.replace(budget, server_ms=ms), origin


def fibre_km_per_ms(reg: Registry) -> float:
    """The registry's fibre propagation speed in km/ms (200,000 km/s -> 200 km/ms)."""
    speed = reg.figure("fibre-propagation").si()
    return speed / 1e6 if speed else geo.FIBRE_KM_PER_MS


def reach_command(site: str, b: geo.LatencyBudget) -> str:
    way = "--round-trip" if b.round_trip else "--one-way"
    return (
        f"accelbench reach --site {site.lower()} --budget-ms {b.budget_ms:g} {way}"
        f" --route-factor {b.route_factor:g}"
    )


def reach_row(e: Entry, ctx: Context) -> Row:
    budget, origin = reach_budget(e, ctx)
    command = reach_command(ctx.assumptions.site, budget)
    if ctx.gazetteer is None or e.value is None:
        return make_row(e, "not yet measured", command=command, note="no gazetteer loaded")
    site = geo.find_place(ctx.gazetteer, ctx.assumptions.site)
    r = geo.reach(ctx.gazetteer, site, budget)
    way = "round trip" if budget.round_trip else "one way"
    evidence = (
        f"derived: {ctx.gazetteer.source}; {way}, route factor {budget.route_factor:g},"
        f" fibre {budget.fibre_km_per_ms:g} km/ms, server {budget.server_ms:g} ms ({origin})"
    )
    measured = f"{r.population / 1e9:.2f} billion within {r.radius_km:,.0f} km"
    others = other_server_times(ctx.evidence, origin)
    note = "; ".join(
        f"with {ms:.3g} ms server time ({why}): {_reach_people(ctx, site, budget, ms)}"
        for ms, why in others
    )
    return judged(
        e,
        e.value,
        r.population,
        ctx.policy,
        measured=measured,
        evidence=evidence,
        command=command,
        note=note,
    )


def _reach_people(ctx: Context, site: geo.City, budget: geo.LatencyBudget, server_ms: float) -> str:
    assert ctx.gazetteer is not None
    b = dataclasses.replace(budget, server_ms=server_ms)
    return f"{geo.reach(ctx.gazetteer, site, b).population / 1e9:.2f} billion"


@dataclass(frozen=True)
class ReachCase:
    budget: geo.LatencyBudget
    reach: geo.Reach
    verdict: Verdict
    ratio: float
    server_origin: str = ""  # where budget.server_ms came from, when a run measured it


@dataclass(frozen=True)
class ReachStudy:
    """The reach claim under each combination of assumptions, a curve and the budget needed."""

    claimed: float
    cases: tuple[ReachCase, ...]
    curve: tuple[geo.Reach, ...]
    needed_ms: float | None
    note: str


COMBINATIONS = tuple((way, factor) for way in (True, False) for factor in ROUTE_FACTORS)


def gazetteer_note(g: geo.Gazetteer) -> str:
    return (
        f"{g.source}: {len(g.names):,} places; {g.world_population / 1e9:.3f} billion people in"
        f" the country totals, {g.unplaced_population / 1e6:.1f} million of them in countries"
        f" with no listed place; method: {g.method}"
    )


def reach_study(
    g: geo.Gazetteer,
    site: geo.City,
    base: geo.LatencyBudget,
    claimed: float,
    policy: VerdictPolicy,
    combinations: Sequence[tuple[bool, float]] = COMBINATIONS,
    servers: Sequence[tuple[float, str]] = (),
) -> ReachStudy:
    """`claimed` people within the budget for each (round trip?, route factor), for `base`'s
    server time and then each other measured server time; the curve follows `base`."""
    cases = []
    for server_ms, origin in [(base.server_ms, ""), *servers]:
        for round_trip, factor in combinations:
            b = dataclasses.replace(
                base, round_trip=round_trip, route_factor=factor, server_ms=server_ms
            )
            r = geo.reach(g, site, b)
            q = ratio(claimed, r.population, "population_within_latency")
            cases.append(ReachCase(b, r, verdict_for(q, policy), q, origin))
    return ReachStudy(
        claimed=claimed,
        cases=tuple(cases),
        curve=tuple(geo.reach_curve(g, site, base, CURVE_MS)),
        needed_ms=geo.budget_for_population(g, site, base, claimed),
        note=gazetteer_note(g),
    )


def _reach_claim(ctx: Context) -> Entry | None:
    return next((e for e in ctx.reg.claims if e.test == "reach"), None)


def claims_reach(ctx: Context) -> ReachStudy | None:
    claim = _reach_claim(ctx)
    if ctx.gazetteer is None or claim is None or claim.value is None:
        return None
    budget, origin = reach_budget(claim, ctx)
    site = geo.find_place(ctx.gazetteer, ctx.assumptions.site)
    others = other_server_times(ctx.evidence, origin)
    study = reach_study(ctx.gazetteer, site, budget, claim.value, ctx.policy, servers=others)
    note = f"{study.note}. Verdict server time: {budget.server_ms:g} ms ({origin})"
    return dataclasses.replace(study, note=note)
