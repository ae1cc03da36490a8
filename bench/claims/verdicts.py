"""Holds every registered claim and figure against the evidence: one verdict row each."""

# The report and the CLI import ReachCase, reach_study, fibre_km_per_ms and ROUTE_FACTORS from
# here (re-exported as `X as X`); the reach claim itself lives in bench/claims/reach.py.

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.claims import geo
from bench.claims.ceilings import (
    Ceiling,
    bound_of,
    ceiling_kind,
    device_label,
    fraction_of_ceiling,
    is_calibration,
    machine_peak,
)
from bench.claims.evidence import Evidence, RemoteObservation, reproduce_command, same_model
from bench.claims.fleet import capacities, capacity_row, equivalences, unmatched
from bench.claims.projections import (
    Capacity,
    DecoderProjection,
    Equivalence,
    project_decoder,
)
from bench.claims.reach import ROUTE_FACTORS as ROUTE_FACTORS
from bench.claims.reach import ReachCase as ReachCase
from bench.claims.reach import ReachStudy, claims_reach, reach_rows
from bench.claims.reach import fibre_km_per_ms as fibre_km_per_ms
from bench.claims.reach import reach_study as reach_study
from bench.claims.registry import (
    NOT_TESTABLE,
    PRECISION_OF_DTYPE,
    Entry,
    Registry,
    VerdictPolicy,
    datasheet_ceilings,
)
from bench.claims.rows import DEFAULT_ASSUMPTIONS, Assumptions, Context, Row, judged, make_row
from bench.core.records import CaseResult, RunRecord
from bench.core.workloads import DTYPES

COMMANDS = {
    "groq": "GROQ_API_KEY=... accelbench run configs/groq.toml",
    "cerebras": "CEREBRAS_API_KEY=... accelbench run configs/cerebras.toml",
    "decoder": "accelbench run configs/decoder-llama.toml",
    "calibrate": "accelbench calibrate",
}


def _not_measurable(e: Entry, ctx: Context) -> Row:
    return make_row(e, NOT_TESTABLE, note=e.reason)


# --- remote speed ---


def observations_for(f: Entry, vendor: str, evidence: Evidence) -> list[RemoteObservation]:
    """Single-stream observations of the figure's model on the vendor's endpoint."""
    return [
        o
        for o in evidence.remote
        if o.vendor == vendor and same_model(o.model, f.model) and o.concurrency <= 1
    ]


def _observed(f: Entry, o: RemoteObservation) -> float | None:
    return o.ttft_s if f.metric == "ttft" else o.output_tokens_per_s


def _remote_row(e: Entry, ctx: Context) -> Row:
    """The claim against each compared figure a run measured; the weakest ratio decides."""
    figures = [ctx.reg.figure(i) for i in e.compare_to] or [e]
    vendor = e.vendor
    judged_rows = []
    for f in figures:
        for o in observations_for(f, f.vendor or vendor, ctx.evidence):
            value = _observed(f, o)
            if value is not None and f.value is not None:
                measured = f"{value:,.3g} {f.unit} ({o.model}, vs {f.id})"
                evidence = f"run {o.run_id}, case {o.case_id}"
                judged_rows.append(
                    judged(
                        e,
                        f.si() or 0.0,
                        value,
                        ctx.policy,
                        measured=measured,
                        evidence=evidence,
                        command=o.command,
                        evidence_type="measured",
                    )
                )
    if judged_rows:
        return min(judged_rows, key=lambda r: r.ratio if r.ratio is not None else 0.0)
    if all(f.historical for f in figures):
        return make_row(e, NOT_TESTABLE, note=f"historical figure: {figures[0].historical}")
    models = ", ".join(f.model for f in figures if f.model)
    return make_row(
        e,
        "not yet measured",
        command=COMMANDS.get(vendor, "accelbench run <remote config>"),
        note=f"needs a {vendor} run with TTFT and output speed for {models or 'the model'}",
    )


# --- datasheet ceilings ---


def _matching_ceilings(f: Entry, ctx: Context) -> list[Ceiling]:
    found = []
    for c in ctx.evidence.ceilings:
        device = ctx.reg.match_device(c.device)
        if device is None or device.id != f.device:
            continue
        memory = f.metric == "memory_bandwidth" and c.kind == "memory"
        matrix = c.kind == "matrix" and PRECISION_OF_DTYPE.get(c.dtype) == f.precision
        if memory or matrix:
            found.append(c)
    return found


def _no_kernel(f: Entry) -> str:
    """Why no local GEMM can test a matrix figure: its precision has no dtype here."""
    if f.metric != "matrix_throughput":
        return ""
    dtypes = [d for d, p in PRECISION_OF_DTYPE.items() if p == f.precision and d in DTYPES]
    if dtypes:
        return ""
    return f"accelbench has no {f.precision} GEMM (its GEMM dtypes: {', '.join(DTYPES)})"


def _ceiling_row(f: Entry, ctx: Context) -> Row:
    if why := _no_kernel(f):
        return make_row(f, NOT_TESTABLE, note=why)
    found = _matching_ceilings(f, ctx)
    if not found or f.value is None:
        here = sorted({c.device for c in ctx.evidence.ceilings}) or ["no calibration given"]
        name = ctx.reg.device(f.device).name
        return make_row(
            f,
            "not yet measured",
            command=f"{COMMANDS['calibrate']} (on a {name})",
            note=f"calibrated here: {', '.join(here)}",
        )
    best = max(found, key=lambda c: c.per_s)
    measured = f"{best.per_s / (f.si() or 1) * f.value:,.4g} {f.unit} ({best.backend} {best.dtype})"
    evidence = f"run {best.origin}, case {best.case_id}"
    return judged(
        f,
        f.si() or 0.0,
        best.per_s,
        ctx.policy,
        measured=measured,
        evidence=evidence,
        command=COMMANDS["calibrate"],
        evidence_type="measured",
    )


# --- decoder projections ---


def _bandwidth_for(backend: str, run_id: str, ev: Evidence) -> tuple[float | None, str]:
    """The calibrated memory ceiling of `backend`'s device, else the run's best copy/triad case."""
    cal = machine_peak(ev.ceilings, backend, "memory")
    if cal is not None:
        return cal.per_s, f"calibrated {cal.workload}, run {cal.origin}"
    for record in ev.runs:
        if record.run_id != run_id:
            continue
        rates = [
            c.gb_per_s
            for c in record.cases
            if c.backend == backend and ceiling_kind(c.workload) == "memory" and c.gb_per_s
        ]
        if rates:
            return max(
                rates
            ) * 1e9, f"this run's triad/copy (not a calibrated ceiling), run {run_id}"
    return None, "no bandwidth measured: run accelbench calibrate"


def decoder_projections(ev: Evidence) -> list[DecoderProjection]:
    out = []
    for t in ev.layers:
        bw, origin = _bandwidth_for(t.backend, t.run_id, ev)
        out.append(project_decoder(t, bw, origin))
    return out


def published_speeds(reg: Registry, model: str) -> list[Entry]:
    """Vendors' published single-stream output speeds for the same model size."""
    return [f for f in reg.figures if f.metric == "output_speed" and same_model(f.model, model)]


# --- fractions of ceilings for ordinary runs ---


@dataclass(frozen=True)
class Fraction:
    run_id: str
    case_id: str
    rate: str
    bound: str
    of_measured: float | None
    of_datasheet: float | None
    datasheet_device: str


def _rate(case: CaseResult) -> str:
    # FLOP/s where the workload does real arithmetic per byte, GB/s otherwise (as run tables do)
    if case.gflops_per_s and (case.intensity_flop_per_byte or 0) >= 1:
        return f"{case.gflops_per_s:,.4g} GFLOP/s"
    return f"{case.gb_per_s:,.4g} GB/s" if case.gb_per_s else f"{case.gflops_per_s:,.4g} GFLOP/s"


def case_fraction(
    reg: Registry, record: RunRecord, case: CaseResult, ceilings: Sequence[Ceiling]
) -> Fraction:
    """One case against the measured ceilings and, on a datasheet device, the vendor's."""
    device = reg.match_device(device_label(record, case.backend))
    sheet = datasheet_ceilings(reg, device.id, case.backend) if device else []
    return Fraction(
        record.run_id,
        case.case_id,
        _rate(case),
        bound_of(case, ceilings),
        fraction_of_ceiling(case, ceilings),
        fraction_of_ceiling(case, sheet) if sheet else None,
        device.name if device else "",
    )


def case_fractions(
    reg: Registry, runs: Sequence[RunRecord], ceilings: Sequence[Ceiling]
) -> list[Fraction]:
    """Every ok case with a rate, from every run that is not itself a calibration."""
    return [
        case_fraction(reg, record, case, ceilings)
        for record in runs
        if not is_calibration(record)
        for case in record.cases
        if case.status == "ok" and (case.gflops_per_s or case.gb_per_s)
    ]


@dataclass(frozen=True)
class CeilingCheck:
    """A measured ceiling beside the datasheet figure of the device it ran on, if any."""

    ceiling: Ceiling
    figure_id: str
    of_datasheet: float | None


def ceiling_checks(reg: Registry, ceilings: Sequence[Ceiling]) -> list[CeilingCheck]:
    out = []
    for c in ceilings:
        device = reg.match_device(c.device)
        sheet = datasheet_ceilings(reg, device.id, c.backend) if device else []
        match = [
            s for s in sheet if s.kind == c.kind and (c.kind == "memory" or s.dtype == c.dtype)
        ]
        if match:
            out.append(CeilingCheck(c, match[0].origin, c.per_s / match[0].per_s))
        else:
            out.append(CeilingCheck(c, "", None))
    return out


# --- the whole report ---


@dataclass(frozen=True)
class ClaimsReport:
    rows: tuple[Row, ...]
    policy: VerdictPolicy
    assumptions: tuple[tuple[str, str], ...]
    runs: tuple[tuple[str, str], ...]  # (run id, command)
    reach: ReachStudy | None = None
    capacities: tuple[Capacity, ...] = ()
    equivalences: tuple[tuple[str, Equivalence], ...] = ()
    decoder: tuple[DecoderProjection, ...] = ()
    published: tuple[tuple[str, tuple[Entry, ...]], ...] = ()
    ceilings: tuple[CeilingCheck, ...] = ()
    fractions: tuple[Fraction, ...] = ()
    unmatched: tuple[str, ...] = ()  # comparisons left out: unlike precisions or memory tiers


EVALUATORS: dict[str, Callable[[Entry, Context], Row | list[Row]]] = {
    "none": _not_measurable,
    "reach": reach_rows,
    "capacity": capacity_row,
    "remote_speed": _remote_row,
    "ceiling": _ceiling_row,
}


def rows(ctx: Context) -> list[Row]:
    """One row per entry; the reach claim gives two (physics, measured)."""
    out: list[Row] = []
    for e in (*ctx.reg.claims, *ctx.reg.figures):
        found = EVALUATORS[e.test](e, ctx)
        out.extend(found if isinstance(found, list) else [found])
    return out


def build(
    reg: Registry,
    evidence: Evidence,
    gazetteer: geo.Gazetteer | None,
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
) -> ClaimsReport:
    """Every verdict row and every projection behind them, ready for a renderer."""
    ctx = Context(reg, evidence, gazetteer, assumptions)
    caps = capacities(ctx)
    projections = decoder_projections(evidence)
    return ClaimsReport(
        rows=tuple(rows(ctx)),
        policy=reg.policy,
        assumptions=tuple(assumptions.lines()),
        runs=tuple((r.run_id, reproduce_command(r)) for r in evidence.runs),
        capacities=tuple(caps),
        equivalences=tuple(
            (c.label, q) for c in caps for q in equivalences(c, evidence, projections)
        ),
        decoder=tuple(projections),
        published=tuple(
            (p.timing.model, tuple(published_speeds(reg, p.timing.model))) for p in projections
        ),
        ceilings=tuple(ceiling_checks(reg, evidence.ceilings)),
        fractions=tuple(case_fractions(reg, evidence.runs, evidence.ceilings)),
        reach=claims_reach(ctx),
        unmatched=tuple(x for c in caps for x in unmatched(c, evidence)),
    )
