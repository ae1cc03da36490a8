"""The gate's statistics and policy: HL, the exact signed-rank interval, Holm, verdicts, fingerprints."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from bench.core import stats
from bench.core.errors import ConfigError
from bench.core.records import CaseResult, RunConfig, RunRecord
from bench.gate import decide as gate
from bench.gate.decide import Estimate, GatePolicy, Verdict
from bench.gate.runs import compare_runs

# --- Hodges-Lehmann and the signed-rank distribution ---


def test_hodges_lehmann_hand_computed():
    # Walsh averages of 1,2,3,4: 1 1.5 2 2 2.5 2.5 3 3 3.5 4 -> median 2.5
    assert stats.hodges_lehmann([1, 2, 3, 4]) == 2.5
    # -1, 0, 10: -1 -0.5 0 4.5 5 10 -> median (0 + 4.5) / 2
    assert stats.hodges_lehmann([-1, 0, 10]) == 2.25
    assert list(stats.walsh_averages([3, 1])) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        stats.hodges_lehmann([])


@pytest.mark.parametrize("n", range(1, 11))
def test_signed_rank_null_matches_enumeration(n):
    counts = np.zeros(n * (n + 1) // 2 + 1)
    for signs in itertools.product((0, 1), repeat=n):
        counts[sum(r for r, s in zip(range(1, n + 1), signs, strict=True) if s)] += 1
    assert np.allclose(stats.signed_rank_null(n), counts / 2**n, rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_signed_rank_pvalue_matches_scipy_exact(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.01, 0.02, size=int(rng.integers(6, 20)))
    for shift in (0.0, 0.005, 0.02):
        for greater in (True, False):
            ours = stats.signed_rank_pvalue(x, shift, greater=greater)
            theirs = sps.wilcoxon(
                x - shift, alternative="greater" if greater else "less", method="exact"
            ).pvalue
            assert ours == pytest.approx(theirs, rel=1e-12)


def test_signed_rank_ci_hand_cases():
    x = [0.03, -0.01, 0.02, 0.05, 0.0, 0.01]
    # n = 6 at 95%: P(W+ <= 0) = 1/64 <= 0.025 < P(W+ <= 1), so k = 1: min and max Walsh
    assert stats.signed_rank_ci(x, 0.95) == (-0.01, 0.05)
    # n = 5 cannot reach 95% (the smallest tail is 1/32 > 0.025): unbounded, honestly
    assert stats.signed_rank_ci(x[:5], 0.95) == (-math.inf, math.inf)
    # n = 8 at 95%: P(W+ <= 3) = 5/256 <= 0.025 < P(W+ <= 4) = 7/256, so k = 4
    y = [1, 2, 3, 4, 5, 6, 7, 8]
    w = stats.walsh_averages(y)
    assert stats.signed_rank_ci(y, 0.95) == (w[3], w[-4]) == (2.0, 7.0)


@pytest.mark.parametrize("seed", range(4))
def test_interval_and_test_agree(seed):
    """The lower bound clears a shift exactly when the one-sided test rejects at the tail."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.02, 0.03, size=14)
    low, high = stats.signed_rank_ci(x, 0.95)
    eps = 1e-9
    assert stats.signed_rank_pvalue(x, low - eps, greater=True) <= 0.025
    assert stats.signed_rank_pvalue(x, low + eps, greater=True) > 0.025
    assert stats.signed_rank_pvalue(x, high + eps, greater=False) <= 0.025
    assert stats.signed_rank_pvalue(x, high - eps, greater=False) > 0.025


def test_bootstrap_intervals_contain_the_estimate_and_are_seeded():
    x = np.random.default_rng(1).normal(0.05, 0.01, 12)
    low, high, reps = stats.hl_bootstrap(x, 0.95, seed=3, resamples=500)
    assert low < stats.hodges_lehmann(x) < high and reps.size == 500
    assert stats.hl_bootstrap(x, 0.95, seed=3, resamples=500)[:2] == (low, high)
    assert stats.bootstrap_pvalue(reps, 0.0, greater=True) == pytest.approx(1 / 501)


def test_ratio_of_medians_of_unpaired_runs():
    rng = np.random.default_rng(0)
    base = 1e-3 * rng.lognormal(0, 0.02, 400)
    new = 1.1e-3 * rng.lognormal(0, 0.02, 300)
    est, low, high, reps = stats.log_ratio_of_medians(base, new, 0.95, seed=0, resamples=500)
    assert est == pytest.approx(math.log(np.median(new) / np.median(base)))
    assert low < math.log(1.1) < high and high - low < 0.01 and reps.size == 500
    with pytest.raises(ValueError):
        stats.log_ratio_of_medians([1.0, -1.0], [1.0, 1.0])


# --- Holm, policy, verdicts ---


def test_holm_hand_computed():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone .06
    assert gate.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert gate.holm([0.5, 0.9]) == [1.0, 1.0]
    assert gate.holm([]) == []


def test_policy_looks_tail_and_validation():
    p = GatePolicy()
    assert (p.looks, p.tail(p.looks)) == (2, 0.0125)
    assert GatePolicy(min_blocks=6, max_blocks=6).looks == 1
    assert gate.make_policy({"tolerance": "0.1", "min_blocks": 6}, "t").tolerance == 0.1
    for bad in (
        {"effect_floor": 0.2},
        {"alpha": 0},
        {"tolerance": 1.5},
        {"min_blocks": 1},
        {"max_blocks": 4},
        {"method": "guess"},
        {"toleranc": 0.1},
    ):
        with pytest.raises(ConfigError):
            gate.make_policy(bad, "cfg: [gate]")


def _est(
    p_slower: float, p_within: float, p_faster: float = 1.0, p_beyond: float = 1.0
) -> Estimate:
    return Estimate(0.03, 0.01, 0.06, 0.95, 10, "test", p_slower, p_within, p_faster, p_beyond)


def test_classify_at_its_boundaries():
    """REGRESSION rests on p_beyond (slower than the tolerance), never on the 1% floor."""
    p, tail = GatePolicy(), 0.025
    assert gate.classify(_est(1.0, tail), p, tail, 1.0)[0] is Verdict.PASS
    assert gate.classify(_est(1.0, tail * 1.0001), p, tail, 1.0)[0] is Verdict.INCONCLUSIVE
    assert gate.classify(_est(0.001, 0.5, 1.0, tail), p, tail, tail)[0] is Verdict.REGRESSION
    # clearly above the floor but not shown above the tolerance: never a regression
    assert gate.classify(_est(1e-9, 0.5), p, tail, tail * 1.0001)[0] is Verdict.INCONCLUSIVE
    assert gate.classify(_est(1.0, 0.001, tail), p, tail, 1.0)[0] is Verdict.IMPROVED
    # a proven small slowdown that stays within tolerance passes, and says so
    verdict, reason = gate.classify(_est(0.001, 0.001), p, tail, 1.0)
    assert verdict is Verdict.PASS and "real slowdown" in reason


def test_paired_verdicts_at_the_tolerance_edge():
    p = GatePolicy(min_blocks=10, max_blocks=10)
    tail = p.tail(1)
    just_under = [math.log(1.0499)] * 10
    at = [math.log1p(0.05)] * 10
    assert gate.judge_paired({"x": just_under}, p)[0][0].verdict is Verdict.PASS
    # exactly at the tolerance is neither within it nor shown beyond it
    assert gate.judge_paired({"x": at}, p)[0][0].verdict is Verdict.INCONCLUSIVE
    est = gate.paired_estimate(at, p, tail)
    assert est.p_slower == 2**-10 and est.ratio == pytest.approx(1.05) and est.p_beyond > 0.5
    assert gate.judge_paired({"x": [math.log(1.051)] * 10}, p)[0][0].verdict is Verdict.REGRESSION
    assert gate.judge_paired({"x": [0.0] * 10}, p)[0][0].verdict is Verdict.PASS
    assert gate.judge_paired({"x": [math.log(0.9)] * 10}, p)[0][0].verdict is Verdict.IMPROVED


def test_holm_across_cases_raises_the_bar():
    """Ten blocks all slower: alone p = 1/1024 clears 0.025; among 40 cases Holm needs 40x."""
    p = GatePolicy(min_blocks=10, max_blocks=10, tolerance=0.05)
    slow = [math.log(1.08)] * 10
    alone = gate.judge_paired({"x": slow}, p)[0][0]
    assert alone.verdict is Verdict.REGRESSION and alone.p_slower_holm == 2**-10
    many = {f"c{i}": slow for i in range(40)}
    cases, geo = gate.judge_paired(many, p)
    assert {c.verdict for c in cases} == {Verdict.INCONCLUSIVE}
    assert cases[0].p_slower_holm == pytest.approx(40 * 2**-10)
    assert geo is not None and geo.verdict is Verdict.REGRESSION


def test_an_error_is_never_a_regression():
    p = GatePolicy(min_blocks=10, max_blocks=10)
    cases, _ = gate.judge_paired({"x": "block 0, side B: failed: boom", "y": [0.0] * 10}, p)
    assert [c.verdict for c in cases] == [Verdict.ERROR, Verdict.PASS]
    assert gate.overall([c.verdict for c in cases]) is Verdict.ERROR
    assert gate.EXIT_CODES[Verdict.ERROR] == 2
    assert gate.overall([Verdict.ERROR, Verdict.REGRESSION]) is Verdict.REGRESSION
    assert gate.overall([Verdict.PASS, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert gate.overall([Verdict.IMPROVED, Verdict.PASS]) is Verdict.PASS
    codes = {v: gate.EXIT_CODES[v] for v in Verdict}
    assert codes == {"PASS": 0, "IMPROVED": 0, "REGRESSION": 1, "ERROR": 2, "INCONCLUSIVE": 3}


def test_geomean_is_the_mean_log_ratio_per_block():
    p = GatePolicy(min_blocks=10, max_blocks=10)
    series = {"a": [math.log(1.10)] * 10, "b": [math.log(1.0)] * 10}
    _, geo = gate.judge_paired(series, p)
    assert geo.estimate.ratio == pytest.approx(math.sqrt(1.10))


# --- fingerprints ---


def test_fingerprint_diff_is_loud_for_hardware_and_libraries():
    base = {
        "cpu": {"model": "Xeon A", "logical_cores": 2},
        "versions": {"numpy": "2.0"},
        "blas": [{"version": "0.3.27", "num_threads": 2}],
        "hostname": "ci-1",
        "git_commit": "abc",
        "backends": {"onnxruntime": {"version": "1.18"}},
    }
    new = {
        "cpu": {"model": "EPYC B", "logical_cores": 2},
        "versions": {"numpy": "2.1", "scipy": "1.14"},
        "blas": [{"version": "0.3.28", "num_threads": 2}],
        "hostname": "ci-2",
        "git_commit": "def",
        "backends": {"onnxruntime": {"version": "1.18"}},
    }
    diffs = {d.key: d for d in gate.fingerprint_diff(base, new)}
    assert set(diffs) == {
        "cpu.model",
        "versions.numpy",
        "versions.scipy",
        "blas.0.version",
        "hostname",
        "git_commit",
    }
    assert {k for k, d in diffs.items() if d.loud} == {
        "cpu.model",
        "versions.numpy",
        "versions.scipy",
        "blas.0.version",
    }
    assert diffs["versions.scipy"].base is None and diffs["cpu.model"].new == "EPYC B"
    assert gate.fingerprint_diff(base, base) == []


# --- two stored runs ---


def _case(case_id: str, per_call_s: float, seed: int, status: str = "ok") -> CaseResult:
    rng = np.random.default_rng(seed)
    samples = tuple(int(v) for v in 1e9 * per_call_s * 8 * rng.lognormal(0, 0.01, 200))
    return CaseResult(
        case_id, "gemm", {"m": 64}, "numpy", {}, "latency", status,  # type: ignore[arg-type]
        reason="" if status == "ok" else "boom", loops=8, sample_ns=samples if status == "ok" else (),
    )  # fmt: skip


def _run(cases: list[CaseResult], model: str = "Xeon") -> RunRecord:
    fp = {"cpu": {"model": model}, "versions": {"numpy": "2.0"}}
    return RunRecord("r", "2026-01-01", RunConfig("run"), fp, {}, tuple(cases), state="complete")


def test_compare_runs_verdicts_geomean_and_fingerprints():
    base = _run([_case("a", 1e-3, 0), _case("b", 1e-3, 1), _case("c", 1e-3, 2)])
    new = _run(
        [_case("a", 1.30e-3, 3), _case("b", 1e-3, 4), _case("c", 0, 5, "failed"), _case("d", 1, 6)],
        model="EPYC",
    )
    r = compare_runs(base, new, GatePolicy(resamples=500))
    verdicts = {c.case_id: c.verdict for c in r.cases}
    assert verdicts == {"a": Verdict.REGRESSION, "b": Verdict.PASS, "c": Verdict.ERROR}
    assert r.verdict is Verdict.REGRESSION and r.exit_code == 1
    ratio = {c.case_id: c.estimate.ratio for c in r.cases if c.estimate}
    assert ratio["a"] == pytest.approx(1.30, rel=0.01) and ratio["b"] == pytest.approx(1, abs=0.01)
    assert r.geomean is not None and r.geomean.estimate.ratio == pytest.approx(
        math.sqrt(1.3), rel=0.01
    )
    assert [d.key for d in r.fingerprint if d.loud] == ["cpu.model"]
    assert any("only in RESULTS: d" in n for n in r.notes)
    with pytest.raises(ConfigError, match="no case of RESULTS"):
        compare_runs(base, _run([_case("z", 1e-3, 0)]), GatePolicy())
