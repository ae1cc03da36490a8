"""Stored-run compare: completeness rules, drift from history, tolerances, large suites."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bench.core.errors import BenchError, ConfigError
from bench.core.records import CaseResult, RunConfig, RunRecord
from bench.gate import decide as gate
from bench.gate import runs
from bench.gate.decide import GatePolicy, GateResult, Verdict


def _case(cid: str, per_call_s: float, rng: np.random.Generator, status: str = "ok", n: int = 60):
    samples = (
        tuple(int(v) for v in 1e9 * per_call_s * 4 * rng.lognormal(0, 0.03, n))
        if status == "ok"
        else ()
    )
    return CaseResult(
        cid, "gemm", {}, "numpy", {}, "latency", status,  # type: ignore[arg-type]
        reason="" if status == "ok" else f"{status}: why", loops=4, sample_ns=samples,
    )  # fmt: skip


def _run(cases, state="complete", run_id="r") -> RunRecord:
    fp = {"cpu": {"model": "Xeon"}}
    return RunRecord(run_id, "2026-01-01", RunConfig("run"), fp, {}, tuple(cases), state=state)


def _suite(rng, statuses=None, factor=1.0, drop=()):
    """Three measured cases and the default suite's expected unsupported one."""
    statuses = statuses or {}
    cases = [
        _case(cid, 1e-3 * factor, rng, statuses.get(cid, "ok"))
        for cid in ("a", "b", "c")
        if cid not in drop
    ]
    return [*cases, _case("onnx@numpy", 0, rng, "unsupported")]


def _verdicts(r: GateResult) -> dict[str, Verdict]:
    return {c.case_id: c.verdict for c in r.cases}


# --- completeness: no error on day one, no silent pass ---


def test_unsupported_in_both_runs_is_skipped_and_said():
    rng = np.random.default_rng(0)
    r = runs.compare_runs(_run(_suite(rng)), _run(_suite(rng)), GatePolicy())
    assert r.verdict is Verdict.PASS and r.exit_code == 0
    assert set(_verdicts(r)) == {"a", "b", "c"}
    assert any("1 case(s) unsupported in both runs, skipped: onnx@numpy" in n for n in r.notes)


@pytest.mark.parametrize(
    ("new_kwargs", "state", "row", "reason"),
    [
        ({"drop": ("b",)}, "complete", "b", "missing from RESULTS"),
        ({"statuses": {"b": "failed"}}, "complete", "b", "failed in RESULTS: failed: why"),
        ({"statuses": {"b": "unsupported"}}, "complete", "b", "unsupported in RESULTS but"),
        ({"drop": ("c",)}, "interrupted", "run new", "did not finish (state 'interrupted')"),
    ],
)
def test_missing_failed_or_cut_short_results_are_errors(new_kwargs, state, row, reason):
    rng = np.random.default_rng(1)
    new = _run(_suite(rng, **new_kwargs), state=state, run_id="new")
    r = runs.compare_runs(_run(_suite(rng)), new, GatePolicy())
    rows = {c.case_id: c for c in r.cases}
    assert rows[row].verdict is Verdict.ERROR and reason in rows[row].reason
    assert r.verdict is Verdict.ERROR and r.exit_code == 2
    allowed = runs.compare_runs(_run(_suite(rng)), new, GatePolicy(allow_missing=True))
    assert allowed.verdict is Verdict.PASS and any(reason in n for n in allowed.notes)


def test_a_file_without_usable_timings_is_a_bench_error_naming_file_and_field():
    rng = np.random.default_rng(2)
    zero = dataclasses.replace(_case("a", 1e-3, rng), sample_ns=(0, 0, 0))
    with pytest.raises(BenchError, match=r"x\.json: cases\[0\] \(a\): sample_ns holds 0"):
        runs.check_timings(_run([zero]), "x.json")
    empty = _run([dataclasses.replace(_case("a", 1e-3, rng), sample_ns=())])
    with pytest.raises(BenchError, match=r"y\.json: holds no timings \(1 case\(s\): ok\)"):
        runs.check_timings(empty, "y.json")
    good = _run(_suite(rng))
    assert runs.check_timings(good, "z.json") is good


# --- verdicts that mean what the docs say ---


def test_a_slowdown_within_tolerance_never_fails():
    """True +4% at block noise 0.02 (wide intervals): 400 decisions, no REGRESSION."""
    rng = np.random.default_rng(3)
    p = GatePolicy(min_blocks=10, max_blocks=10)
    verdicts = [
        gate.judge_paired({"x": math.log(1.04) + rng.normal(0, 0.02, 10)}, p)[0][0].verdict
        for _ in range(400)
    ]
    assert Verdict.REGRESSION not in verdicts
    assert verdicts.count(Verdict.INCONCLUSIVE) > 0  # the intervals were wide: it was tested


def test_on_inconclusive_sets_the_exit_code():
    est = gate.Estimate(0.03, -0.02, 0.08, 0.95, 10, "t", 0.5, 0.5, 1.0, 0.5)
    case = gate.CaseVerdict("x", Verdict.INCONCLUSIVE, "wide", est)
    codes = {}
    for mode in gate.ON_INCONCLUSIVE:
        policy = gate.make_policy({"on_inconclusive": mode})
        codes[mode] = GateResult(
            "compare", (case,), None, Verdict.INCONCLUSIVE, policy, 0.95
        ).exit_code
    assert codes == {"pass": 0, "warn": 0, "fail": 3}
    with pytest.raises(ConfigError, match="on_inconclusive"):
        gate.make_policy({"on_inconclusive": "maybe"})


def test_per_case_tolerances_first_match_wins():
    p = gate.make_policy({"cases": {"decoder*": 0.2, "*@numpy/*": 0.1}}, "cfg: [gate]")
    assert p.for_case("decoder[x]@numpy/latency").tolerance == 0.2
    assert p.for_case("gemm[x]@numpy/latency").tolerance == 0.1
    assert p.for_case("gemm[x]@onnxruntime/latency") is p
    slow = [math.log(1.12)] * 10
    q = dataclasses.replace(p, min_blocks=10, max_blocks=10)
    cases, _ = gate.judge_paired({"decoder[x]@numpy/latency": slow, "gemm@cupy/l": slow}, q)
    assert [c.verdict for c in cases] == [Verdict.PASS, Verdict.REGRESSION]
    assert "20% tolerance" in cases[0].reason
    with pytest.raises(ConfigError, match=r"cases\.'x' = 2\.0 must be a tolerance"):
        gate.make_policy({"cases": {"x": 2.0}})


@pytest.mark.parametrize(("method", "cases", "blocks"), [("bootstrap", 40, 10), ("exact", 60, 20)])
def test_a_large_suite_all_slower_can_fail(method, cases, blocks):
    """Many cases all 20% slower: Holm needs p <= tail / cases, which the bootstrap's scaled
    resample count (2,000 fixed could not below p = 1/2001) and the exact test reach."""
    rng = np.random.default_rng(4)
    p = GatePolicy(min_blocks=blocks, max_blocks=blocks, method=method)
    series = {f"c{i}": math.log(1.2) + rng.normal(0, 0.02, blocks) for i in range(cases)}
    judged, geo = gate.judge_paired(series, p)
    assert {c.verdict for c in judged} == {Verdict.REGRESSION}
    assert geo is not None and geo.verdict is Verdict.REGRESSION
    assert gate.needed_resamples(p, p.tail(1), 40) == 16_000
    assert p.tail(1) / 60 < 1 / (2000 + 1)  # why the fixed default could never reject 60


# --- drift: history measures it, one BASE run assumes it ---


def _drifting_run(rng, n_cases: int, factor: float, drift: float, run_id: str) -> RunRecord:
    """One run of a suite whose per-case medians move by a run-to-run drift `drift`."""
    offsets = rng.normal(0, drift / math.sqrt(2), n_cases)
    cases = [
        _case(f"c{i}", 1e-3 * factor * math.exp(off), rng, n=50) for i, off in enumerate(offsets)
    ]
    return _run(cases, run_id=run_id)


def test_history_measures_the_drift_and_widens_the_interval():
    rng = np.random.default_rng(5)
    bases = [_drifting_run(rng, 20, 1.0, 0.06, f"b{k}") for k in range(5)]
    new = _drifting_run(rng, 20, 1.0, 0.06, "new")
    r = runs.compare_runs(bases, new, GatePolicy())
    assert any("measured over 5 BASE runs (df 80)" in n for n in r.notes)
    var, df = runs.drift_variance(
        [[p for p in map(runs.point, [b.cases[i] for b in bases]) if p] for i in range(20)]
    )
    # the run-to-run drift was 6%: per run 0.06**2 / 2, measured within sampling error
    assert df == 80 and math.sqrt(2 * var) == pytest.approx(0.06, rel=0.25)
    single = runs.compare_runs(bases[0], new, GatePolicy())
    assert any("advisory" in n and "2% assumed" in n for n in single.notes)


def _rates(rng, factor: float, k_bases: int, suites: int) -> float:
    """Fraction of suites (20 cases, 2% run-to-run drift) that compare as REGRESSION."""
    fails = 0
    for _s in range(suites):
        bases = [_drifting_run(rng, 20, 1.0, 0.02, f"b{k}") for k in range(k_bases)]
        new = _drifting_run(rng, 20, factor, 0.02, "new")
        fails += runs.compare_runs(bases, new, GatePolicy()).verdict is Verdict.REGRESSION
    return fails / suites


def test_simulated_false_regressions_and_detection_with_drift():
    """Seeded, no timing: identical code with 2% run-to-run drift fails <= 1% of suites;
    every case 10% slower is caught in >= 90% (five BASE runs of history)."""
    rng = np.random.default_rng(6)
    assert _rates(rng, 1.0, 5, 200) <= 0.01
    assert _rates(rng, 1.0, 1, 200) <= 0.01  # one BASE run, assumed drift: advisory, no alarm
    assert _rates(rng, 1.10, 5, 100) >= 0.90


# --- the power curve gate-eval prints ---


def test_power_curve_rises_with_the_slowdown_and_never_fails_within_tolerance():
    from bench.gate import power

    points = power.power_curve(0.02, GatePolicy(), trials=100, seed=1)
    assert [p.slowdown for p in points] == list(power.SLOWDOWNS)
    detection = [p.regression for p in points]
    assert detection == sorted(detection)  # monotone in the true slowdown
    by = {p.slowdown: p for p in points}
    assert by[0.0].regression == by[0.02].regression == 0.0  # within tolerance: never fails
    assert by[0.2].regression == 1.0 and by[0.2].mean_blocks == 10.0
    assert all(math.isclose(p.regression + p.inconclusive + p.passed, 1.0) for p in points)
    assert power.block_noise([0.0, 0.0, 1.349, 1.349]) == pytest.approx(1.0)  # IQR / 1.349


def test_one_wild_case_does_not_widen_every_interval():
    rng = np.random.default_rng(7)
    groups = []
    for i in range(20):
        sd = 1.0 if i == 0 else 0.02  # one case swings by 100% between runs
        groups.append([runs.Point(rng.normal(0, sd / math.sqrt(2)), 0.001) for _ in range(5)])
    var, df = runs.drift_variance(groups)
    assert df == 80 and math.sqrt(2 * var) == pytest.approx(0.02, rel=0.5)
    assert runs.case_drift(groups[0]) > 50 * var  # the wild case keeps its own, larger drift


# --- remote chat runs: per-request metrics gated ---


def _chat_run(rng, ttft_s: float, run_id: str) -> RunRecord:
    from bench.core.records import RequestRecord

    reqs = tuple(
        RequestRecord(
            i,
            i < 2,
            "ok",
            ttft_s=ttft_s * rng.lognormal(0, 0.05),
            e2e_s=0.5 * rng.lognormal(0, 0.05),
            tpot_s=0.01 * rng.lognormal(0, 0.05),
        )  # fmt: skip
        for i in range(62)
    )
    case = CaseResult("chat[x]@synthetic/concurrency", "chat", {}, "synthetic", {},
                      "concurrency", "ok", requests=reqs)  # fmt: skip
    return _run([case], run_id=run_id)


def test_chat_runs_are_compared_per_request_metric():
    from bench.gate import chat, interop

    rng = np.random.default_rng(8)
    base, same, slow = (_chat_run(rng, t, n) for t, n in ((0.1, "a"), (0.1, "b"), (0.2, "c")))
    split = chat.expand_requests(base).cases
    assert [c.case_id for c in split] == [
        "chat[x]@synthetic/concurrency ttft",
        "chat[x]@synthetic/concurrency e2e",
        "chat[x]@synthetic/concurrency tpot",
    ]
    assert len(split[0].sample_ns) == 60 and split[0].loops == 1  # warm-up requests left out
    r = runs.compare_runs(base, slow, GatePolicy())
    verdicts = {c.case_id.rsplit(" ", 1)[1]: c.verdict for c in r.cases}
    assert verdicts["ttft"] is Verdict.REGRESSION and verdicts["e2e"] is not Verdict.REGRESSION
    assert runs.compare_runs(base, same, GatePolicy(tolerance=0.1)).verdict is Verdict.PASS
    doc = interop.export_run(chat.expand_requests(base))
    assert [b["name"] for b in doc["benchmarks"]] == [c.case_id for c in split]
