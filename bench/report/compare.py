"""Gate results as a terminal table (rich), Markdown for a CI step summary, and JSON."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bench.core.jsonable import jsonable
from bench.gate.decide import CaseVerdict, Estimate, FingerprintDiff, GateResult, Verdict

STYLE = {
    Verdict.PASS: "green",
    Verdict.IMPROVED: "bold green",
    Verdict.REGRESSION: "bold red",
    Verdict.INCONCLUSIVE: "yellow",
    Verdict.ERROR: "bold magenta",
}
MEANING = {
    0: "pass",
    1: "regression",
    2: "error (usage, configuration, or a case that could not be measured)",
    3: "inconclusive",
}


def ratio_text(est: Estimate | None) -> tuple[str, str]:
    """('1.032x', '[1.011, 1.055]') or dashes when there is no estimate."""
    if est is None:
        return "-", "-"

    def show(log_value: float) -> str:
        return f"{math.exp(log_value):.3f}" if math.isfinite(log_value) else "unbounded"

    return f"{est.ratio:.3f}x", f"[{show(est.low)}, {show(est.high)}]"


def _headline(r: GateResult) -> str:
    what = f"{r.new_label} vs {r.base_label}"
    blocks = f", {r.blocks} blocks" if r.blocks is not None else ""
    p = r.policy
    return (
        f"{r.mode}: {what}{blocks}; tolerance {100 * p.tolerance:g}%, effect floor "
        f"{100 * p.effect_floor:g}%, {100 * r.confidence:.4g}% intervals -> {r.verdict} "
        f"(exit {r.exit_code}: {MEANING[r.exit_code]})"
    )


def _rows(r: GateResult) -> list[CaseVerdict]:
    return [*r.cases, *([r.geomean] if r.geomean is not None else [])]


def terminal(r: GateResult) -> RenderableType:
    """A rich table per case plus the geomean, then fingerprint differences and notes."""
    table = Table(title=escape(_headline(r)), title_justify="left", show_lines=False)
    for col in ("case", "B/A", "interval", "n", "verdict", "why"):
        table.add_column(col, overflow="fold")
    for c in _rows(r):
        ratio, ci = ratio_text(c.estimate)
        n = str(c.estimate.n) if c.estimate else "-"
        verdict = Text(c.verdict.value, style=STYLE[c.verdict])
        table.add_row(escape(c.case_id), ratio, ci, n, verdict, escape(c.reason))
    parts: list[RenderableType] = [table]
    parts += [Text(line, style="bold yellow") for line in fingerprint_lines(r.fingerprint)]
    parts += [Text(f"note: {line}") for line in r.notes]
    return Group(*parts)


def fingerprint_lines(diffs: tuple[FingerprintDiff, ...]) -> list[str]:
    """Loud lines for hardware/library differences; one quiet summary for the rest."""
    loud = [d for d in diffs if d.loud]
    quiet = [d.key for d in diffs if not d.loud]
    lines = [
        f"WARNING: environments differ: {d.key}: {d.base!r} -> {d.new!r} (timings may not compare)"
        for d in loud
    ]
    if quiet:
        lines.append(f"also differs (expected): {', '.join(quiet[:8])}")
    return lines


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(r: GateResult) -> str:
    """A GitHub-flavoured Markdown summary (for $GITHUB_STEP_SUMMARY and PR comments)."""
    icon = {"PASS": "✅", "IMPROVED": "🚀", "REGRESSION": "❌", "INCONCLUSIVE": "⚠️", "ERROR": "💥"}
    lines = [f"### accelbench {r.mode}: {icon[r.verdict.value]} {r.verdict.value}", ""]
    lines += [_headline(r), ""]
    lines += ["| case | B/A | interval | n | verdict | why |", "|---|---:|---|---:|---|---|"]
    for c in _rows(r):
        ratio, ci = ratio_text(c.estimate)
        n = str(c.estimate.n) if c.estimate else "-"
        cells = [c.case_id, ratio, ci, n, f"{icon[c.verdict.value]} {c.verdict.value}", c.reason]
        lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
    fp = fingerprint_lines(r.fingerprint)
    if fp:
        lines += [
            "",
            *[f"> **{_md_cell(x)}**" if x.startswith("WARNING") else f"> {x}" for x in fp],
        ]
    lines += ["", *[f"- {_md_cell(n)}" for n in r.notes]]
    return "\n".join(lines).rstrip() + "\n"


def _estimate_json(est: Estimate | None) -> dict[str, Any] | None:
    if est is None:
        return None
    return {
        "ratio": est.ratio,
        "ratio_low": jsonable(est.ratio_low),
        "ratio_high": jsonable(est.ratio_high),
        "log_ratio": est.log_ratio,
        "confidence": est.confidence,
        "n": est.n,
        "method": est.method,
        "p_slower": est.p_slower,
        "p_within": est.p_within,
        "p_faster": est.p_faster,
        "p_beyond": est.p_beyond,
    }


def _case_json(c: CaseVerdict) -> dict[str, Any]:
    return {
        "case_id": c.case_id,
        "verdict": c.verdict.value,
        "reason": c.reason,
        "estimate": _estimate_json(c.estimate),
        "p_slower_holm": c.p_slower_holm,
    }


def to_json(r: GateResult) -> dict[str, Any]:
    """Every number behind the verdicts, for machines (CI bots, dashboards)."""
    return {
        "mode": r.mode,
        "verdict": r.verdict.value,
        "exit_code": r.exit_code,
        "base": r.base_label,
        "new": r.new_label,
        "blocks": r.blocks,
        "confidence": r.confidence,
        "policy": jsonable(r.policy),
        "cases": [_case_json(c) for c in r.cases],
        "geomean": _case_json(r.geomean) if r.geomean else None,
        "fingerprint_differences": [
            {"key": d.key, "base": d.base, "new": d.new, "loud": d.loud} for d in r.fingerprint
        ],
        "notes": list(r.notes),
    }


def _rate(r: Any) -> str:
    """'3/1000 = 0.30% [0.06, 0.87]' for a gate_eval.Rate."""
    if not r.n:
        return "-"
    low, high = r.interval()
    return f"{r.k}/{r.n} = {100 * r.value:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def eval_markdown(summaries: Any, policy: Any, rule: str) -> str:
    """The evaluation's figures: the gate beside pytest-benchmark's rule, on the same samples."""
    lines = [
        "### Gate evaluation (A/A false failures, injected-slowdown detection)",
        "",
        f"Gate: tolerance {100 * policy.tolerance:g}%, effect floor "
        f"{100 * policy.effect_floor:g}%, alpha {policy.alpha:g}, blocks "
        f"{policy.min_blocks}..{policy.max_blocks} step {policy.block_step}. "
        f"pytest-benchmark rule: `--benchmark-compare-fail={rule}`. Rates are "
        "REGRESSION (gate) or fail (rule) per case-decision and per suite-decision, "
        "with 95% Clopper-Pearson intervals.",
        "",
        "| experiment | decisions | gate: per case | gate: per suite | gate inconclusive (suite) "
        f"| {rule} vs stored run: per case | per suite | {rule} same blocks: per case "
        "| mean blocks | gate s/decision | rule s/decision |",
        "|---|---:|---|---|---|---|---|---|---:|---:|---:|",
    ]
    for s in summaries:
        cells = [
            s.label,
            str(s.decisions),
            _rate(s.gate_case),
            _rate(s.gate_suite),
            _rate(s.gate_inconclusive_suite),
            _rate(s.pb_stored_case),
            _rate(s.pb_stored_suite),
            _rate(s.pb_same_case),
            f"{s.mean_blocks:.1f}",
            f"{s.gate_wall_s:.2f}",
            f"{s.pb_wall_s:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *_eval_per_case(summaries)]) + "\n"


def _eval_per_case(summaries: Any) -> list[str]:
    lines = [
        "Per case (gate REGRESSION rate / rule fail rate vs stored run; median B/A):",
        "",
        "| experiment | case | work B/A | gate | rule | measured B/A |",
        "|---|---|---:|---|---|---:|",
    ]
    for s in summaries:
        for cid, work, g, pb, ratio in s.per_case:
            cells = [s.label, _md_cell(cid), f"{work:.3f}", _rate(g), _rate(pb), f"{ratio:.3f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def power_markdown(noise: float, points: Any, policy: Any, trials: int) -> str:
    """The power curve: verdict shares per true slowdown at the machine's block noise."""
    if math.isnan(noise):  # no A/A decision measured a noise figure
        return "Power curve: no A/A block noise was measured.\n"
    lines = [
        "",
        f"### Power curve at this machine's block noise ({100 * noise:.2g}% SD per block)",
        "",
        f"One case, sequential blocks {policy.min_blocks}..{policy.max_blocks} as `ab` runs them, "
        f"tolerance {100 * policy.tolerance:g}%; simulated ({trials} decisions per row, normal "
        "block noise at the A/A median; seeded).",
        "",
        "| true slowdown | REGRESSION | INCONCLUSIVE | PASS | mean blocks |",
        "|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        lines.append(
            f"| +{100 * p.slowdown:g}% | {100 * p.regression:.1f}% | {100 * p.inconclusive:.1f}% "
            f"| {100 * p.passed:.1f}% | {p.mean_blocks:.1f} |"
        )
    return "\n".join(lines) + "\n"
