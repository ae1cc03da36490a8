"""The gate's proof: A/A false failures and injected-slowdown detection, beside pytest-benchmark's rule."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scipy import stats as sps

from bench.core import config as configmod
from bench.core import workloads
from bench.core.config import Planned
from bench.core.errors import ConfigError
from bench.core.params import check_keys
from bench.gate import decide as gate
from bench.gate import interop
from bench.gate.decide import Verdict
from bench.runner import ab, ab_config

# The parameter that scales each workload's work linearly (rows, batch, length).
# The parameter each workload's work grows linearly with, as its spec declares it.
WORK_PARAM: Mapping[str, str] = MappingProxyType(
    {s.name: s.work_param for s in workloads.all_specs() if s.work_param}
)


@dataclass(frozen=True)
class EvalSettings:
    """How many gate decisions per experiment, which slowdowns, and the rule to set beside."""

    aa_decisions: int = 100
    slow_decisions: int = 25
    slowdowns: tuple[float, ...] = (0.02, 0.05, 0.10)
    pytest_benchmark_rule: str = "mean:5%"
    work_param: Mapping[str, str] = field(default_factory=lambda: dict(WORK_PARAM))
    # CI stops at the first regression; judging every case to the end measures each one's power
    judge_every_case: bool = True


def eval_settings(table: Mapping[str, Any], where: str) -> EvalSettings:
    check_keys(table, {f.name for f in dataclasses.fields(EvalSettings)}, where)
    values = dict(table)
    if "slowdowns" in values:
        values["slowdowns"] = tuple(float(x) for x in values["slowdowns"])
    if "work_param" in values:
        values["work_param"] = {**WORK_PARAM, **values["work_param"]}
    settings = EvalSettings(**values)
    if settings.aa_decisions < 0 or settings.slow_decisions < 0:
        raise ConfigError(f"{where}: aa_decisions and slow_decisions must be >= 0")
    interop.compare_fail(settings.pytest_benchmark_rule, [1.0], [1.0])  # a bad rule fails now
    return settings


def _work(p: Planned) -> float:
    return float(p.spec.flops(p.params) or p.spec.bytes_moved(p.params))


def inject(p: Planned, work_param: Mapping[str, str], fraction: float) -> tuple[Planned, float]:
    """B: the same case doing (1 + fraction) times the work inside the timed call (a larger
    batch, more rows or elements: more of the same work, never a sleep), and the exact
    factor of work the workload's own flop (or byte) model gives."""
    name = work_param.get(p.spec.name)
    if name is None or not p.spec.accepts(name):
        raise ConfigError(
            f"workload '{p.spec.name}' has no work parameter for slowdown injection; "
            'add one under [eval] work_param (e.g. work_param = { gemm = "m" })'
        )
    old = int(p.params[name])
    new = max(old + 1, round(old * (1 + fraction)))
    params = p.spec.resolve({**p.params, name: new}, owner=f"injection into '{p.spec.name}'")
    slowed = Planned(p.spec, params, p.backend, p.options, p.scenario)
    return slowed, _work(slowed) / _work(p)


@dataclass(frozen=True)
class Decision:
    """One gate decision on fresh blocks, and pytest-benchmark's rule on the same samples."""

    verdicts: tuple[Verdict, ...]
    suite: Verdict
    blocks: int
    wall_ns: int
    b_wall_ns: int
    ratios: tuple[float, ...]
    pb_same: tuple[bool, ...]
    pb_stored: tuple[bool, ...] | None
    block_noise: tuple[float, ...] = ()  # per case: robust SD of the per-block log-ratios


@dataclass(frozen=True)
class Experiment:
    label: str
    injected: float
    case_ids: tuple[str, ...]
    work_factors: tuple[float, ...]
    decisions: tuple[Decision, ...]


def pooled(outcome: ab.AbOutcome, side: str) -> list[list[float]]:
    """Per case, every per-call sample of one side across the decision's blocks."""
    cases = len(outcome.blocks[0].a)
    out: list[list[float]] = [[] for _ in range(cases)]
    for blk in outcome.blocks:
        for i, c in enumerate(blk.a if side == "A" else blk.b):
            out[i].extend(c.per_call_s())
    return out


def _pb_flags(rule: str, base: Sequence[Sequence[float]], new: Sequence[Sequence[float]]) -> Any:
    return tuple(
        bool(b) and bool(n) and interop.compare_fail(rule, b, n)
        for b, n in zip(base, new, strict=True)
    )


def decide(
    outcome: ab.AbOutcome, rule: str, stored: list[list[float]] | None
) -> tuple[Decision, list[list[float]]]:
    """The gate's verdicts plus the rule judged against this decision's A (same time) and
    against the previous decision's A (a stored baseline, as CI uses pytest-benchmark)."""
    a, b = pooled(outcome, "A"), pooled(outcome, "B")
    r = outcome.result
    decision = Decision(
        verdicts=tuple(c.verdict for c in r.cases),
        suite=r.verdict,
        blocks=len(outcome.blocks),
        wall_ns=outcome.wall_ns,
        b_wall_ns=sum(blk.wall_ns_b for blk in outcome.blocks),
        ratios=tuple(c.estimate.ratio if c.estimate else float("nan") for c in r.cases),
        pb_same=_pb_flags(rule, a, b),
        pb_stored=_pb_flags(rule, stored, b) if stored is not None else None,
        block_noise=_block_noise(outcome),
    )
    return decision, a


def _block_noise(outcome: ab.AbOutcome) -> tuple[float, ...]:
    from bench.gate import power

    ids = [c.case_id for c in outcome.result.cases]
    series = ab.log_ratio_series(outcome.blocks, ids)
    return tuple(
        float("nan") if isinstance(v, str) else power.block_noise(v) for v in series.values()
    )


def measured_noise(experiments: Sequence[Experiment]) -> float:
    """The machine's block noise: the median over the A/A decisions' cases (NaN if none)."""
    values = [
        n for e in experiments if e.injected == 0 for d in e.decisions for n in d.block_noise
        if not math.isnan(n)  # a failed case carries no noise figure
    ]  # fmt: skip
    return float(sorted(values)[len(values) // 2]) if values else float("nan")


def run_experiment(
    label: str,
    pairs: Sequence[tuple[Planned, Planned]],
    injected: float,
    factors: Sequence[float],
    count: int,
    setup: tuple[gate.GatePolicy, ab.BlockSettings, EvalSettings],
    on_decision: Callable[[str, int, Decision], None] | None = None,
) -> Experiment:
    """`count` gate decisions back to back, each on fresh blocks, as a CI would run them."""
    policy, blocks, settings = setup
    source = ab.InProcessBlocks(pairs, blocks)
    decisions: list[Decision] = []
    stored = None
    try:
        for i in range(count):
            outcome = ab.run_ab(source, policy, stop_at_regression=not settings.judge_every_case)
            decision, stored = decide(outcome, settings.pytest_benchmark_rule, stored)
            decisions.append(decision)
            if on_decision is not None:
                on_decision(label, i, decision)
    finally:
        source.close()
    ids = tuple(source.case_ids)
    return Experiment(label, injected, ids, tuple(factors), tuple(decisions))


def load(path: Path) -> tuple[list[Planned], gate.GatePolicy, ab.BlockSettings, EvalSettings]:
    """The eval config: a suite plus [gate], [ab] and [eval] tables."""
    suite, extra = ab_config.load_gate_config(path)
    policy = gate.make_policy(extra["gate"], f"{path}: [gate]")
    blocks = ab_config.block_settings(extra["ab"], f"{path}: [ab]")
    settings = eval_settings(extra["eval"], f"{path}: [eval]")
    planned = configmod.expand(suite, suite.backends or ["numpy"])
    return planned, policy, blocks, settings


def run_all(
    planned: Sequence[Planned],
    setup: tuple[gate.GatePolicy, ab.BlockSettings, EvalSettings],
    on_decision: Callable[[str, int, Decision], None] | None = None,
) -> list[Experiment]:
    """A/A first, then every injected slowdown."""
    policy, blocks, settings = setup
    ab.check_available([(p, p) for p in planned])
    same = [(p, p) for p in planned]
    runs = []
    if settings.aa_decisions:
        ones = [1.0] * len(same)
        runs.append(
            run_experiment("A/A", same, 0.0, ones, settings.aa_decisions, setup, on_decision)
        )
    for fraction in settings.slowdowns if settings.slow_decisions else ():
        injected = [inject(p, settings.work_param, fraction) for p in planned]
        pairs = [(p, b) for p, (b, _) in zip(planned, injected, strict=True)]
        factors = [f for _, f in injected]
        label = f"+{100 * fraction:g}% work"
        runs.append(
            run_experiment(
                label, pairs, fraction, factors, settings.slow_decisions, setup, on_decision
            )
        )
    return runs


@dataclass(frozen=True)
class Rate:
    """k of n, with a 95% Clopper-Pearson interval."""

    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def interval(self) -> tuple[float, float]:
        if not self.n:
            return float("nan"), float("nan")
        ci = sps.binomtest(self.k, self.n).proportion_ci(0.95, method="exact")
        return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Summary:
    """The figures one experiment gives, for the gate and for pytest-benchmark's rule."""

    label: str
    decisions: int
    gate_case: Rate
    gate_suite: Rate
    gate_inconclusive_case: Rate
    gate_inconclusive_suite: Rate
    pb_same_case: Rate
    pb_same_suite: Rate
    pb_stored_case: Rate
    pb_stored_suite: Rate
    mean_blocks: float
    gate_wall_s: float
    pb_wall_s: float
    per_case: tuple[tuple[str, float, Rate, Rate, float], ...]


def _count(flags: Sequence[bool]) -> Rate:
    return Rate(sum(bool(f) for f in flags), len(flags))


def summarize(exp: Experiment) -> Summary:
    """Failure (A/A) or detection (injected) rates per case and per suite, and wall times."""
    ds = exp.decisions
    reg, inc = Verdict.REGRESSION, Verdict.INCONCLUSIVE
    stored = [d for d in ds if d.pb_stored is not None]
    per_case = []
    for i, cid in enumerate(exp.case_ids):
        ratios = sorted(d.ratios[i] for d in ds)
        per_case.append(
            (
                cid,
                exp.work_factors[i],
                _count([d.verdicts[i] == reg for d in ds]),
                _count([d.pb_stored[i] for d in stored if d.pb_stored is not None]),
                ratios[len(ratios) // 2] if ratios else float("nan"),
            )
        )
    return Summary(
        label=exp.label,
        decisions=len(ds),
        gate_case=_count([v == reg for d in ds for v in d.verdicts]),
        gate_suite=_count([d.suite == reg for d in ds]),
        gate_inconclusive_case=_count([v == inc for d in ds for v in d.verdicts]),
        gate_inconclusive_suite=_count([d.suite == inc for d in ds]),
        pb_same_case=_count([f for d in ds for f in d.pb_same]),
        pb_same_suite=_count([any(d.pb_same) for d in ds]),
        pb_stored_case=_count([f for d in stored for f in d.pb_stored or ()]),
        pb_stored_suite=_count([any(d.pb_stored or ()) for d in stored]),
        mean_blocks=sum(d.blocks for d in ds) / len(ds) if ds else float("nan"),
        gate_wall_s=sum(d.wall_ns for d in ds) / len(ds) / 1e9 if ds else float("nan"),
        pb_wall_s=sum(d.b_wall_ns for d in ds) / len(ds) / 1e9 if ds else float("nan"),
        per_case=tuple(per_case),
    )


def to_json(experiments: Sequence[Experiment]) -> dict[str, Any]:
    """Every decision, so the rates can be recomputed or re-cut later."""
    return {
        "experiments": [
            {
                "label": e.label,
                "injected": e.injected,
                "case_ids": list(e.case_ids),
                "work_factors": list(e.work_factors),
                "decisions": [
                    {
                        **dataclasses.asdict(d),
                        "verdicts": [v.value for v in d.verdicts],
                        "suite": d.suite.value,
                    }
                    for d in e.decisions
                ],
            }
            for e in experiments
        ]
    }
