"""The reach claim: people within a latency budget of a site, by physics and with measured time."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from bench.claims import geo
from bench.claims.evidence import Evidence
from bench.claims.registry import (
    Entry,
    Registry,
    Verdict,
    VerdictPolicy,
    bounded_verdict,
    ratio,
)
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


def groq_server_time(evidence: Evidence) -> ServerTime | None:
    """The server time the measured row takes off the budget: Groq's own, else a Groq client
    TTFT (which also holds this machine's network path, so it over-subtracts)."""
    groq = [t for t in server_times(evidence) if t.vendor == "groq"]
    return next((t for t in groq if t.own), groq[0] if groq else None)


def other_server_times(evidence: Evidence, origin: str) -> list[tuple[float, str]]:
    """(ms, origin) of every server time but the measured row's own (`origin`)."""
    return [(t.ms, t.origin) for t in server_times(evidence) if t.origin != origin]


def reach_budget(e: Entry | None, ctx: Context) -> geo.LatencyBudget:
    """The claim's budget under the printed assumptions, propagation only (no server time)."""
    budget = dataclasses.replace(ctx.assumptions.budget, server_ms=0.0)
    if e is not None and isinstance(e.conditions.get("latency_ms"), int | float):
        budget = dataclasses.replace(budget, budget_ms=float(e.conditions["latency_ms"]))
    return budget


def max_route_factor(
    g: geo.Gazetteer, site: geo.City, b: geo.LatencyBudget, claimed: float
) -> float | None:
    """The largest route factor at which `claimed` people are within the budget (None: none)."""
    straight = dataclasses.replace(b, route_factor=1.0, server_ms=0.0, last_mile_ms=0.0)
    propagation_ms = geo.budget_for_population(g, site, straight, claimed)
    if propagation_ms is None:
        return None
    return b.network_ms() / propagation_ms if propagation_ms > 0 else float("inf")


def flip_words(factor: float | None, b: geo.LatencyBudget) -> str:
    delays = f"{b.server_ms:.3g} ms server time" if b.server_ms else "no server time"
    if b.last_mile_ms:
        delays += f", {b.last_mile_ms:g} ms last mile"
    way = "round trip" if b.round_trip else "one way"
    if factor is None or factor < 1.0:
        return f"fails even on a straight cable (route factor 1, {way}, {delays})"
    if factor == float("inf"):
        return f"holds at any route factor ({way}, {delays}): the site's own country suffices"
    return f"holds for route factor <= {factor:.3g} ({way}, {delays})"


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


MEASURED_SUFFIX = ":measured"


def reach_rows(e: Entry, ctx: Context) -> list[Row]:
    """Two questions, two rows: propagation only (physics), and with measured server time."""
    budget = reach_budget(e, ctx)
    command = reach_command(ctx.assumptions.site, budget)
    measured_id = e.id + MEASURED_SUFFIX
    if ctx.gazetteer is None or e.value is None:
        note = "no gazetteer loaded"
        return [
            make_row(e, "not yet measured", command=command, note=note, evidence_type="physics"),
            make_row(e, "not yet measured", id=measured_id, note=note, evidence_type="measured"),
        ]
    return [_physics_row(e, ctx, budget, command), _measured_row(e, ctx, budget, measured_id)]


def _judged_reach(
    e: Entry, ctx: Context, budget: geo.LatencyBudget, origin: str, **changes: object
) -> Row:
    assert ctx.gazetteer is not None and e.value is not None
    site = geo.find_place(ctx.gazetteer, ctx.assumptions.site)
    r = geo.reach(ctx.gazetteer, site, budget)
    way = "round trip" if budget.round_trip else "one way"
    evidence = (
        f"{ctx.gazetteer.source} (populations about 2018); from {site.name}; {way}, route factor"
        f" {budget.route_factor:g}, fibre {budget.fibre_km_per_ms:g} km/ms, last mile"
        f" {budget.last_mile_ms:g} ms, server {budget.server_ms:.3g} ms ({origin})"
    )
    flips = flip_words(max_route_factor(ctx.gazetteer, site, budget, e.value), budget)
    measured = f"{r.population / 1e9:.2f} billion within {r.radius_km:,.0f} km"
    return judged(
        e, e.value, r.population, ctx.policy, measured=measured, evidence=evidence,
        flips=flips, **changes,
    )  # fmt: skip


def _physics_row(e: Entry, ctx: Context, budget: geo.LatencyBudget, command: str) -> Row:
    other = [s for s in ALTERNATE_SITES if s != ctx.assumptions.site]
    note = "; ".join(_site_note(ctx, s, budget, e.value or 0.0) for s in other)
    return _judged_reach(
        e, ctx, budget, "propagation only", command=command, note=note, evidence_type="physics"
    )


def _measured_row(e: Entry, ctx: Context, budget: geo.LatencyBudget, row_id: str) -> Row:
    server = groq_server_time(ctx.evidence)
    origin = server.origin if server else ""
    site = geo.find_place(ctx.gazetteer, ctx.assumptions.site) if ctx.gazetteer else None
    others = other_server_times(ctx.evidence, origin)
    note = "; ".join(
        f"with {ms:.3g} ms server time ({why}): {_reach_people(ctx, site, budget, ms)}"
        for ms, why in others
        if site is not None
    )
    if server is None:
        return make_row(
            e, "not yet measured", id=row_id, evidence_type="measured", command=COMMAND_GROQ,
            note="; ".join(x for x in ("needs a Groq run to measure server time", note) if x),
        )  # fmt: skip
    b = dataclasses.replace(budget, server_ms=server.ms)
    return _judged_reach(e, ctx, b, origin, id=row_id, note=note, evidence_type="measured")


# The article places Groq's regional office in Riyadh; where the LPUs sit (Aramco's Dammam
# data centre, per public reporting) is an assumption: both are shown.
ALTERNATE_SITES = ("Riyadh", "Dammam")
COMMAND_GROQ = "GROQ_API_KEY=... accelbench run configs/groq.toml"


def _site_note(ctx: Context, name: str, budget: geo.LatencyBudget, claimed: float) -> str:
    assert ctx.gazetteer is not None
    site = geo.find_place(ctx.gazetteer, name)
    r = geo.reach(ctx.gazetteer, site, budget)
    flips = flip_words(max_route_factor(ctx.gazetteer, site, budget, claimed), budget)
    return f"from {site.name}: {r.population / 1e9:.2f} billion; {flips}"


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
    max_route_factor: float | None = None  # where the verdict flips, the rest held fixed


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
    bound: str = "at_least",
    tolerance: float | None = None,
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
            cases.append(ReachCase(b, r, bounded_verdict(q, bound, tolerance, policy), q, origin))
    return ReachStudy(
        claimed=claimed,
        cases=tuple(cases),
        curve=tuple(geo.reach_curve(g, site, base, CURVE_MS)),
        needed_ms=geo.budget_for_population(g, site, base, claimed),
        note=gazetteer_note(g),
        max_route_factor=max_route_factor(g, site, base, claimed),
    )


def _reach_claim(ctx: Context) -> Entry | None:
    return next((e for e in ctx.reg.claims if e.test == "reach"), None)


def claims_reach(ctx: Context) -> ReachStudy | None:
    """The reach table: propagation only, then each measured server time taken off the budget."""
    claim = _reach_claim(ctx)
    if ctx.gazetteer is None or claim is None or claim.value is None:
        return None
    budget = reach_budget(claim, ctx)
    site = geo.find_place(ctx.gazetteer, ctx.assumptions.site)
    servers = [(t.ms, t.origin) for t in server_times(ctx.evidence)]
    study = reach_study(
        ctx.gazetteer, site, budget, claim.value, ctx.policy, servers=servers,
        bound=claim.bound, tolerance=claim.tolerance,
    )  # fmt: skip
    return dataclasses.replace(study, note=f"{study.note}; populations about 2018")
