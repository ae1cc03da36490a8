"""A claims-table row, the assumptions and context every verdict is built from, and row helpers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from bench.claims import geo
from bench.claims.evidence import Evidence
from bench.claims.projections import CapacityAssumptions
from bench.claims.registry import (
    NOT_TESTABLE,
    Entry,
    Registry,
    Verdict,
    VerdictPolicy,
    bound_words,
    bounded_verdict,
    ratio,
)

EvidenceType = Literal["measured", "physics", "vendor figure", "derived", "none"]
# The kind of evidence each test draws on; a row never mixes two.
EVIDENCE_OF_TEST: dict[str, EvidenceType] = {
    "reach": "physics",
    "capacity": "derived",
    "remote_speed": "measured",
    "ceiling": "measured",
}


@dataclass(frozen=True)
class Row:
    """One line of the claims table."""

    id: str
    kind: str
    source: str
    date: str
    claim: str
    claimed: str
    measured: str
    ratio: float | None
    verdict: Verdict
    evidence: str
    command: str
    note: str = ""
    quote_fr: str = ""
    evidence_type: EvidenceType = "none"
    flips: str = ""  # the assumption at which the verdict would change, when one does
    claimed_value: float | None = None  # SI units, for --json
    measured_value: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Assumptions:
    """Everything the verdicts rest on that no source states; the report prints it all."""

    site: str = "Riyadh"
    budget: geo.LatencyBudget = geo.LatencyBudget(100.0, True, geo.FIBRE_KM_PER_MS, 1.5)
    capacity: CapacityAssumptions = CapacityAssumptions()

    def lines(self) -> list[tuple[str, str]]:
        b, c = self.budget, self.capacity
        return [
            (
                "reach site",
                f"{self.site} (the article places Groq's regional office in Riyadh;"
                " Aramco's Dammam data centre, per public reporting, is shown beside it)",
            ),
            ("reach budget", f"{b.budget_ms:g} ms, {'round trip' if b.round_trip else 'one way'}"),
            ("fibre speed", f"{b.fibre_km_per_ms:g} km/ms (registry 'fibre-propagation')"),
            ("route factor", f"{b.route_factor:g} x the great-circle distance"),
            ("last mile", f"{b.last_mile_ms:g} ms of the budget for the access network"),
            (
                "capacity model",
                f"{c.model}, {c.bytes_per_param:g} bytes per parameter and per KV"
                " value (an assumption: only Cerebras states its serving precision)",
            ),
            ("utilization", f"{c.utilization:g} of peak FLOP/s (1 = an upper bound)"),
            ("user speed", f"{c.user_tokens_per_s:g} tokens/s per concurrent user"),
            ("Grenoble GPU", f"{c.gpu_device} (the article does not name the model)"),
            (
                "Cerebras systems",
                f"{c.cerebras_systems:,} (the article gives a cost only; the"
                " cluster is publicly described as 9 x 64 systems, modelled as WSE-3 though the"
                " first were CS-2)",
            ),
            ("context", f"{c.context_tokens:,} tokens of KV cache per concurrent user"),
        ]


@dataclass(frozen=True)
class Context:
    reg: Registry
    evidence: Evidence
    gazetteer: geo.Gazetteer | None
    assumptions: Assumptions

    @property
    def policy(self) -> VerdictPolicy:
        return self.reg.policy


# --- rows ---


def _describe_figure(f: Entry) -> str:
    bits = [f.device, f.metric.replace("_", " "), f.precision, f.sparsity, f.model, f.note]
    return " ".join(b for b in bits if b)


def make_row(e: Entry, verdict: Verdict, **changes: Any) -> Row:
    """A row for `e`; `changes` fill measured, ratio, evidence, command or note."""
    claim = e.quote_en if e.kind == "claim" else _describe_figure(e)
    note = (e.historical or e.reason) if verdict == NOT_TESTABLE else ""
    row = Row(
        e.id, e.kind, e.source, e.date, claim, e.stated(), "-", None, verdict, "", "", note,
        quote_fr=e.quote_fr, claimed_value=e.si(), unit=e.unit,
        evidence_type=EVIDENCE_OF_TEST.get(e.test, "none"),
    )  # fmt: skip
    return dataclasses.replace(row, **changes)


def judged(
    e: Entry, claimed_si: float, measured_si: float, policy: VerdictPolicy, **changes: Any
) -> Row:
    """A row whose verdict reads the entry's bound as stated (at least X needs X or more)."""
    r = ratio(claimed_si, measured_si, e.metric)
    note = "; ".join(
        x for x in (changes.pop("note", ""), bound_words(e.bound, e.tolerance, policy)) if x
    )
    verdict = bounded_verdict(r, e.bound, e.tolerance, policy)
    changes.setdefault("measured_value", measured_si)
    changes.setdefault("claimed_value", claimed_si)
    return make_row(e, verdict, ratio=r, note=note, **changes)


DEFAULT_ASSUMPTIONS = Assumptions()
