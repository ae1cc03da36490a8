"""The claims report as rich tables, Markdown or JSON: verdicts, reach, capacity, projections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench.claims.geo import Reach
from bench.claims.projections import Capacity, DecoderProjection, Equivalence
from bench.claims.registry import Entry
from bench.claims.verdicts import (
    COMMANDS,
    CeilingCheck,
    ClaimsReport,
    Fraction,
    ReachCase,
    ReachStudy,
    Row,
)
from bench.core.jsonable import jsonable

VERDICT_STYLE = {
    "supported": "green",
    "partly supported": "yellow",
    "contradicted": "bold red",
    "not testable by measurement": "dim",
    "not yet measured": "cyan",
}


@dataclass(frozen=True)
class Section:
    """A titled table of strings, rendered alike in the terminal and in Markdown."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()


def fmt(value: float | None, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    for scale, word in ((1e12, " trillion"), (1e9, " billion"), (1e6, " million")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{word}{' ' + unit if unit else ''}"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return f"{text} {unit}".strip()


def si(value: float | None, unit: str) -> str:
    """1.38e14 FLOP/s -> '138 TFLOP/s': SI prefixes up to exa."""
    if value is None:
        return "-"
    for scale, prefix in (
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ):
        if abs(value) >= scale:
            return f"{value / scale:,.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}"


def _verdict_rows(rows: Sequence[Row], quotes: bool) -> tuple[tuple[str, ...], ...]:
    out = []
    for r in rows:
        said = (f"{r.claim} (« {r.quote_fr} »)",) if quotes else ()
        detail = (r.evidence, r.command and f"`{r.command}`", r.note)
        out.append(
            (
                r.id, r.source, *said, r.claimed, r.evidence_type, r.measured, _ratio(r.ratio),
                r.verdict, r.flips or "-", "; ".join(x for x in detail if x),
            )
        )  # fmt: skip
    return tuple(out)


_VERDICT_HEADERS: tuple[str, ...] = (
    "id",
    "source",
    "claimed",
    "evidence type",
    "measured / derived",
    "ratio",
)
_VERDICT_HEADERS += ("verdict", "flips at", "evidence")
_CLAIM_HEADERS = (*_VERDICT_HEADERS[:2], "claim (quote)", *_VERDICT_HEADERS[2:])


def verdict_sections(report: ClaimsReport) -> list[Section]:
    claims = [r for r in report.rows if r.kind == "claim"]
    figures = [r for r in report.rows if r.kind == "figure"]
    p = report.policy
    policy = (
        "verdict from evidence of the claim's own metric only; ratio = measured / claimed"
        " (claimed / measured for times); supported when the bound as stated holds ('at least'"
        f" needs ratio >= 1, 'about' 1 - its tolerance, else {p.supported_at:g}); partly"
        f" supported >= {p.partly_at:g}; below, contradicted"
    )
    return [
        Section("claims in the articles", _CLAIM_HEADERS, _verdict_rows(claims, True), (policy,)),
        Section("datasheet and published figures", _VERDICT_HEADERS, _verdict_rows(figures, False)),
    ]


def _reach_row(r: Reach) -> tuple[str, ...]:
    way = "round trip" if r.budget.round_trip else "one way"
    top = ", ".join(f"{cc} {fmt(n)}" for cc, n in r.top_countries[:3])
    return (
        way,
        f"{r.budget.route_factor:g}",
        f"{r.radius_km:,.0f} km",
        fmt(r.population),
        pct(r.share_of_world),
        top,
    )


def _server(c: ReachCase) -> str:
    ms = c.budget.server_ms
    return f"{ms:.3g} ms ({c.server_origin})" if c.server_origin else f"{ms:.3g} ms"


def reach_sections(study: ReachStudy | None) -> list[Section]:
    if study is None or not study.cases:
        return [Section("reach", ("note",), (("not computed: no gazetteer or no reach claim",),))]
    first = study.cases[0]
    site = first.reach.site
    head: tuple[str, ...] = ("direction", "route factor", "server", "radius", "people")
    head += ("of world", "largest", "ratio", "verdict")
    cases = tuple(
        (*_reach_row(c.reach)[:2], _server(c), *_reach_row(c.reach)[2:], _ratio(c.ratio), c.verdict)
        for c in study.cases
    )
    title = (
        f"reach from {site.name} ({site.lat:.3f}, {site.lon:.3f}) within"
        f" {first.budget.budget_ms:g} ms, against {fmt(study.claimed)} people"
    )
    curve = tuple(
        (f"{r.budget.budget_ms:g} ms", f"{r.radius_km:,.0f} km", fmt(r.population))
        + (pct(r.share_of_world),)
        for r in study.curve
    )
    b = study.curve[0].budget if study.curve else first.budget
    way = f"{'round trip' if b.round_trip else 'one way'}, route factor {b.route_factor:g}"
    notes = [study.note]
    if study.needed_ms is not None:
        needed = f"{study.needed_ms:.1f} ms ({way})"
        notes.append(f"budget needed for {fmt(study.claimed)} people: {needed}")
    if study.max_route_factor is not None:
        notes.append(
            f"at {first.budget.budget_ms:g} ms ({way.split(',')[0]}, no server time),"
            f" {fmt(study.claimed)} people are reached up to route factor"
            f" {study.max_route_factor:.3g}; beyond it 'at least {fmt(study.claimed)}' does not hold"
        )
    curve_title = f"reach curve ({way})"
    return [
        Section(title, head, cases, tuple(notes)),
        Section(curve_title, ("budget", "radius", "people", "of world"), curve),
    ]


_CAPACITY_HEAD = (
    "fleet",
    "devices",
    "per copy",
    "copies",
    "users (range)",
    "limited by",
    "memory limit",
    "compute limit",
    "bandwidth limit",
    "batch-1 floor",
)
_EQUIVALENCE_HEAD = ("fleet", "on", "fleet", "one measured device", "measured on", "equivalent")


def _limit(c: Capacity, name: str) -> str:
    found = [x for x in c.limits if x.name == name]
    if not found or found[0].users is None:
        return f"- ({found[0].basis})" if found else "-"
    return fmt(found[0].users, "users")


def _capacity_row(c: Capacity) -> tuple[str, ...]:
    from bench.claims.fleet import users_words, weights_note

    copies = "-" if c.replicas is None else f"{c.replicas:,}"
    per = "-" if c.devices_per_replica is None else f"{c.devices_per_replica:,}"
    note = weights_note(c)
    return (
        c.label,
        f"{c.count:,} x {c.device.name}",
        per + (f" ({note})" if note else ""),
        copies,
        users_words(c),
        c.limited_by or "-",
        _limit(c, "memory"),
        _limit(c, "compute"),
        _limit(c, "bandwidth"),
        f"{fmt(c.floor_tokens_per_s, 'tokens/s')} ({c.floor_basis})",
    )


def _equivalence_row(label: str, q: Equivalence) -> tuple[str, ...]:
    return (
        label,
        q.workload,
        si(q.fleet_rate, q.unit),
        si(q.measured_rate, q.unit),
        q.measured_label,
        f"{fmt(q.equivalent_devices)} devices",
    )


def capacity_sections(report: ClaimsReport) -> list[Section]:
    rows = tuple(_capacity_row(c) for c in report.capacities)
    eq = tuple(_equivalence_row(label, q) for label, q in report.equivalences)
    notes = (
        "users: from every copy serving one stream (batch 1) up to the tightest of three limits:"
        " memory = (fleet memory - one copy of the weights) / KV cache per user; compute ="
        " devices x dense 16-bit peak x utilization / (2 x parameters) / user speed; bandwidth"
        " = users whose KV cache, with the weights, the fleet can read at the user speed;"
        " each is an upper bound (perfect parallelism)",
    )
    eq_notes = tuple(report.unmatched)
    if not eq:
        eq_notes += ("no like-for-like calibration or decoder run given: nothing compared",)
    return [
        Section("capacity projections", _CAPACITY_HEAD, rows, notes),
        Section("fleet as a count of the measured device", _EQUIVALENCE_HEAD, eq, eq_notes),
    ]


_DECODER_HEAD = (
    "model",
    "measured on",
    "per token",
    "projected",
    "weights/token",
    "bandwidth",
    "roofline",
    "of roofline",
    "roofline @16-bit",
    "published",
)


def _decoder_row(p: DecoderProjection, published: Sequence[Entry]) -> tuple[str, ...]:
    t = p.timing
    vendors = "; ".join(
        f"{f.id}: {fmt(f.value)} tokens/s" + (f" ({f.note})" if f.note else "") for f in published
    )
    bandwidth = None if p.bandwidth_per_s is None else p.bandwidth_per_s
    return (
        t.model,
        f"{t.backend} {t.dtype} on {t.device} (run {t.run_id})",
        f"{t.layer_s * 1e3:.3g} ms x {p.shape.layers} + head {p.head_s * 1e3:.3g} ms",
        fmt(p.tokens_per_s, "tokens/s"),
        f"{p.bytes_per_token / 1e9:.3g} GB",
        f"{si(bandwidth, 'B/s')} ({p.bandwidth_origin})",
        fmt(p.roofline_tokens_per_s, "tokens/s"),
        pct(p.fraction_of_roofline),
        fmt(p.roofline_16bit_tokens_per_s, "tokens/s"),
        vendors or "-",
    )


def decoder_sections(report: ClaimsReport) -> list[Section]:
    published = dict(report.published)
    rows = tuple(_decoder_row(p, published.get(p.timing.model, ())) for p in report.decoder)
    notes: tuple[str, ...] = (
        "single stream, batch 1: measured layer time x layers + the output head, which is not"
        " measured but assumed to stream its weights at the layer's achieved rate",
        "roofline = weight bytes per token / measured bandwidth (KV cache excluded); a decode"
        " step only reads its weights, so it can beat a copy/triad ceiling (above 100%)",
        "published = the vendors' single-stream output speed after the first token on their"
        " own hardware; serving precision only where the vendor states it (the figure's note)",
    )
    if not rows:
        notes = (f"no decoder case at a Llama shape in these runs: `{COMMANDS['decoder']}`",)
    return [Section("decoder projection", _DECODER_HEAD, rows, notes)]


def _ceiling_row(check: CeilingCheck) -> tuple[str, ...]:
    c = check.ceiling
    rate = si(c.per_s, "FLOP/s" if c.kind == "matrix" else "B/s")
    sheet = f"{pct(check.of_datasheet)} of {check.figure_id}" if check.figure_id else "-"
    return (c.backend, c.device, c.kind, c.dtype or "-", c.workload, rate, sheet, c.origin)


def ceiling_section(checks: Sequence[CeilingCheck]) -> Section:
    head = ("backend", "device", "kind", "dtype", "workload", "rate", "datasheet", "run")
    rows = tuple(_ceiling_row(c) for c in checks)
    notes = () if rows else ("no calibration given: `accelbench calibrate`",)
    return Section("measured ceilings", head, rows, notes)


def ceiling_sections(report: ClaimsReport) -> list[Section]:
    out = [ceiling_section(report.ceilings)]
    if report.fractions:
        out.append(fraction_section(report.fractions))
    return out


def fraction_section(fractions: Sequence[Fraction]) -> Section:
    rows = tuple(
        (
            f.case_id,
            f.rate,
            f.bound or "-",
            pct(f.of_measured),
            f"{pct(f.of_datasheet)} of {f.datasheet_device}" if f.datasheet_device else "-",
        )
        for f in fractions
    )
    head = ("case", "rate", "bound", "of measured ceiling", "of datasheet")
    note = (
        "fraction of the roofline: min(matrix peak for the dtype, intensity x memory peak),"
        " the peaks being the best any backend reached on the same device; above 100%: the case"
        " beat copy/triad, because its data sat in cache or it mostly reads (copy and triad"
        " also write, and on a CPU each written line is first read: traffic they do not count)"
    )
    return Section("cases against the ceilings", head, rows, (note,))


def assumption_section(report: ClaimsReport) -> Section:
    rows = tuple(report.assumptions) + tuple((f"run {rid}", cmd) for rid, cmd in report.runs)
    return Section("assumptions and evidence runs", ("what", "value"), rows)


def sections(report: ClaimsReport) -> list[Section]:
    return [
        *verdict_sections(report),
        *reach_sections(report.reach),
        *capacity_sections(report),
        *decoder_sections(report),
        *ceiling_sections(report),
        assumption_section(report),
    ]


def to_rich(section: Section) -> Table:
    table = Table(
        title=section.title,
        title_justify="left",
        caption="\n".join(section.notes) or None,
        caption_justify="left",
    )
    for h in section.headers:
        table.add_column(h, overflow="fold")
    for row in section.rows:
        cells = [escape(c) for c in row]
        if "verdict" in section.headers:
            i = section.headers.index("verdict")
            cells[i] = f"[{VERDICT_STYLE.get(row[i], '')}]{cells[i]}[/]"
        table.add_row(*cells)
    return table


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: ClaimsReport) -> str:
    out = ["# Vendor claims against measurements", ""]
    for s in sections(report):
        out += [f"## {s.title}", "", "| " + " | ".join(s.headers) + " |"]
        out.append("|" + "---|" * len(s.headers))
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.rows]
        out += [""] + [f"_{n}_" for n in s.notes] + ([""] if s.notes else [])
    return "\n".join(out).rstrip() + "\n"


def to_json(report: ClaimsReport) -> dict[str, Any]:
    """Every number behind the tables (raw, not formatted), for scripts."""
    plain: dict[str, Any] = jsonable(report)
    return plain


# Every number behind the tables goes through the one JSON-ready conversion.
to_json_value = jsonable
