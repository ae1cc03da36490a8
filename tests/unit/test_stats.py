"""bench.core.stats against hand-computed answers: summaries, confidence intervals, cautions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from bench.core.stats import (
    Summary,
    median_ci_bootstrap,
    median_ci_order,
    relative_ci_halfwidth,
    summarize,
    warnings_for,
)

ONE_TO_TEN = [float(v) for v in range(1, 11)]


def test_summarize_one_to_ten_matches_hand_computed_values() -> None:
    s = summarize(ONE_TO_TEN)
    assert s.n == 10
    assert s.min_s == 1.0
    assert s.median_s == 5.5
    assert s.mean_s == 5.5
    # numpy's default (linear) percentile: value at rank 1 + q * (n - 1).
    # q25 = 1 + 0.25 * 9 = 3.25, q75 = 1 + 0.75 * 9 = 7.75
    assert s.iqr_s == pytest.approx(4.5, abs=1e-12)
    assert s.p90_s == pytest.approx(9.1, abs=1e-12)
    assert s.p99_s == pytest.approx(9.91, abs=1e-12)
    # sum((x - 5.5)^2) = 82.5, over n - 1 = 9
    assert s.stddev_s == pytest.approx(math.sqrt(82.5 / 9), rel=1e-12)
    assert s.confidence == 0.95


def test_summarize_ignores_input_order() -> None:
    shuffled = [7.0, 2.0, 10.0, 1.0, 5.0, 3.0, 9.0, 4.0, 8.0, 6.0]
    assert summarize(shuffled) == summarize(ONE_TO_TEN)


def test_bootstrap_ci_brackets_the_median_and_is_seeded() -> None:
    rng = np.random.default_rng(42)
    values = list(rng.lognormal(mean=-7.0, sigma=0.2, size=200))
    s = summarize(values, seed=3)
    assert s.ci_low_s <= s.median_s <= s.ci_high_s
    assert s.ci_low_s < s.ci_high_s
    assert s.ci_low_s >= s.min_s
    assert median_ci_bootstrap(values, seed=3) == (s.ci_low_s, s.ci_high_s)
    assert median_ci_bootstrap(values, seed=3) == median_ci_bootstrap(values, seed=3)
    assert summarize(values, seed=3) == s
    # A wider confidence gives an interval at least as wide.
    lo90, hi90 = median_ci_bootstrap(values, confidence=0.90, seed=3)
    lo99, hi99 = median_ci_bootstrap(values, confidence=0.99, seed=3)
    assert lo99 <= lo90 and hi90 <= hi99


def test_bootstrap_depends_on_the_seed() -> None:
    values = list(np.random.default_rng(0).standard_normal(50) + 10)
    intervals = {median_ci_bootstrap(values, seed=s) for s in range(5)}
    assert len(intervals) > 1


def test_one_value_is_its_own_summary() -> None:
    s = summarize([3.0])
    assert s == Summary(
        n=1,
        min_s=3.0,
        median_s=3.0,
        mean_s=3.0,
        stddev_s=0.0,
        iqr_s=0.0,
        p90_s=3.0,
        p99_s=3.0,
        ci_low_s=3.0,
        ci_high_s=3.0,
    )


def test_all_equal_values_have_zero_spread_and_a_point_interval() -> None:
    s = summarize([2.5] * 7)
    assert (s.n, s.min_s, s.median_s, s.mean_s, s.p99_s) == (7, 2.5, 2.5, 2.5, 2.5)
    assert s.stddev_s == 0.0
    assert s.iqr_s == 0.0
    assert (s.ci_low_s, s.ci_high_s) == (2.5, 2.5)
    assert median_ci_order([2.5] * 7) == (2.5, 2.5)


def test_two_values_bootstrap_falls_back_to_the_median() -> None:
    assert median_ci_bootstrap([1.0, 3.0]) == (2.0, 2.0)


def test_no_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


def test_median_ci_order_hand_computed_binomial_case() -> None:
    # n = 10: P(Bin(10, 1/2) <= 1) = 11/1024 = 0.0107 <= 0.025 < P(<= 2) = 56/1024,
    # so the 95% interval runs from the 2nd to the 9th order statistic.
    assert median_ci_order(ONE_TO_TEN) == (2.0, 9.0)
    # n = 20: P(Bin(20, 1/2) <= 5) = 0.0207 <= 0.025 < P(<= 6): 6th to 15th.
    assert median_ci_order([float(v) for v in range(1, 21)]) == (6.0, 15.0)
    # The order statistics come from the sorted values, whatever the input order.
    values = [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0]
    assert median_ci_order(values) == (2.0, 9.0)


def test_median_ci_order_agrees_with_scipy() -> None:
    x = np.random.default_rng(7).exponential(size=101)
    ci = sps.quantile_test(x, p=0.5).confidence_interval(0.95)
    assert median_ci_order(x) == (float(ci.low), float(ci.high))


def test_median_ci_order_few_values_is_the_range() -> None:
    assert median_ci_order([4.0, 1.0, 3.0]) == (1.0, 4.0)
    assert median_ci_order([5.0, 6.0, 1.0, 2.0, 3.0]) == (1.0, 6.0)


def test_relative_ci_halfwidth() -> None:
    assert relative_ci_halfwidth(9.0, 11.0, 10.0) == pytest.approx(0.1)
    assert relative_ci_halfwidth(1.0, 1.0, 1.0) == 0.0
    assert relative_ci_halfwidth(0.0, 1.0, 0.0) == math.inf


def _summary(n: int, median: float, iqr: float) -> Summary:
    return Summary(n, median, median, median, 0.0, iqr, median, median, median, median)


def test_warnings_for_a_noisy_machine_names_the_iqr_and_the_remedy() -> None:
    notes = warnings_for(_summary(n=500, median=1e-3, iqr=0.14e-3))
    assert notes == [
        "IQR is 14% of the median: the machine is noisy (IQR above 10% of the median);"
        " raise --min-time or pin threads"
    ]


def test_warnings_for_a_quiet_machine_with_enough_samples_is_empty() -> None:
    assert warnings_for(_summary(n=500, median=1e-3, iqr=0.05e-3)) == []
    # The threshold is a parameter.
    assert len(warnings_for(_summary(n=500, median=1e-3, iqr=0.05e-3), noisy_iqr=0.01)) == 1


def test_warnings_for_few_samples_names_the_percentile_and_the_count() -> None:
    assert warnings_for(_summary(n=5, median=1.0, iqr=0.0)) == [
        "p90 rests on 5 samples: p90 needs about 10 samples; read it as the max"
    ]
    assert warnings_for(_summary(n=50, median=1.0, iqr=0.0)) == [
        "p99 rests on 50 samples: p99 needs about 100 samples; read it as the max"
    ]
    assert warnings_for(_summary(n=100, median=1.0, iqr=0.0)) == []


def test_warnings_for_both_cautions_at_once() -> None:
    notes = warnings_for(_summary(n=8, median=2.0, iqr=1.0))
    assert len(notes) == 2
    assert notes[0].startswith("IQR is 50% of the median")
    assert notes[1].startswith("p90 rests on 8 samples")
