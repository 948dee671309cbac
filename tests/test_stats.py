"""Tests for greenbench.stats: summaries of repeats and comparisons between two sets of them."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenbench.stats import (
    BOOTSTRAP_SEED,
    HIGH_CV,
    Comparison,
    Summary,
    compare,
    summarize,
)

# Lognormal noise with a 10% coefficient of variation, like run-to-run noise on the dev machines.
SIGMA_10_PERCENT_CV = math.sqrt(math.log(1 + 0.10**2))

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def noisy(rng: np.random.Generator, n: int, scale: float = 1.0) -> list[float]:
    """n repeats with median ``scale`` and 10% CV."""
    return list(scale * rng.lognormal(0.0, SIGMA_10_PERCENT_CV, n))


# --------------------------------------------------------------------------- summarize


def test_summarize_known_data():
    s = summarize([3.0, 1.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0, 10.0, 9.0])

    assert s.n == 10
    assert s.median == 5.5
    assert s.mean == 5.5
    assert s.stdev == pytest.approx(statistics.stdev(range(1, 11)))
    assert (s.min, s.max) == (1.0, 10.0)
    # n=10 at 95%: x(2)..x(9), coverage 1 - 2 * 11/1024 = 97.85%.
    assert (s.ci_low, s.ci_high) == (2.0, 9.0)
    assert s.ci_level == 0.95
    assert s.ci_method.startswith("order-statistic")
    assert "97.9%" in s.ci_method


def test_order_statistic_interval_starts_at_six_values():
    # 1 - 2 / 2**n reaches 95% first at n = 6 (96.9%); n = 5 gives only 93.75%.
    assert summarize([1.0, 2, 3, 4, 5, 6]).ci_method.startswith("order-statistic")
    assert summarize([1.0, 2, 3, 4, 5, 6]).ci_low == 1.0
    assert summarize([1.0, 2, 3, 4, 5]).ci_method.startswith("student-t")


def test_small_samples_use_student_t_around_the_mean():
    s = summarize([1.0, 2.0, 3.0])

    half_width = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, df=2) * s / sqrt(n)
    assert s.ci_low == pytest.approx(2.0 - half_width)
    assert s.ci_high == pytest.approx(2.0 + half_width)
    assert s.ci_method.startswith("student-t")


def test_single_value_has_no_interval_and_says_why():
    s = summarize([4.2])

    assert (s.n, s.median, s.mean, s.min, s.max) == (1, 4.2, 4.2, 4.2, 4.2)
    assert s.stdev is None
    assert s.ci_low is None and s.ci_high is None
    assert s.ci_method.startswith("none") and "single value" in s.ci_method
    assert s.cv is None and s.high_cv is False


def test_identical_values_give_a_zero_width_interval_and_zero_cv():
    for n in (2, 5, 6, 20):
        s = summarize([7.5] * n)
        assert (s.ci_low, s.median, s.ci_high) == (7.5, 7.5, 7.5)
        assert s.stdev == 0.0
        assert s.cv == 0.0
        assert s.high_cv is False


def test_cv_is_stdev_over_mean_and_flags_above_ten_percent():
    quiet = summarize([100.0, 101.0, 99.0, 100.0])
    loud = summarize([100.0, 130.0, 70.0, 100.0])

    assert quiet.cv == pytest.approx(statistics.stdev([100, 101, 99, 100]) / 100.0)
    assert quiet.high_cv is False
    assert loud.cv == pytest.approx(statistics.stdev([100, 130, 70, 100]) / 100.0)
    assert loud.cv > HIGH_CV
    assert loud.high_cv is True


def test_cv_just_either_side_of_the_threshold():
    # stdev of [1 - d, 1 + d] is d * sqrt(2); choose d to land just below and above 10%.
    d_at_threshold = HIGH_CV / math.sqrt(2)
    assert summarize([1 - 0.99 * d_at_threshold, 1 + 0.99 * d_at_threshold]).high_cv is False
    assert summarize([1 - 1.01 * d_at_threshold, 1 + 1.01 * d_at_threshold]).high_cv is True


def test_cv_is_undefined_for_zero_mean_and_uses_absolute_mean_when_negative():
    assert summarize([-1.0, 1.0]).cv is None
    negative = summarize([-10.0, -12.0, -8.0])
    assert negative.cv == pytest.approx(2.0 / 10.0)
    assert negative.high_cv is True


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "empty"),
        ([1.0, None, 2.0], r"values\[1\] is None"),
        ([1.0, 2.0, float("nan")], r"values\[2\] is NaN"),
        ([float("inf"), 1.0], r"values\[0\] is infinite"),
        ([1.0, "2.0"], r"values\[1\] is not a number"),
        ("123", "not a string"),
    ],
)
def test_summarize_rejects_missing_and_non_numeric_values(values, message):
    with pytest.raises(ValueError, match=message):
        summarize(values)


def test_summarize_accepts_numpy_arrays_and_ints():
    s = summarize(np.array([1, 2, 3, 4], dtype=np.int64))
    assert s.median == 2.5
    assert isinstance(s.median, float)


def test_median_interval_covers_the_true_median_at_the_stated_level():
    # Skewed noise (lognormal) on purpose: the order-statistic interval promises its coverage for
    # any continuous distribution. At n=10 the exact coverage is 97.85%.
    rng = np.random.default_rng(12345)
    samples = rng.lognormal(0.0, 0.5, size=(1500, 10))  # true median exp(0) = 1
    hits = 0
    for row in samples:
        s = summarize(row)
        assert s.ci_low is not None and s.ci_high is not None
        hits += s.ci_low <= 1.0 <= s.ci_high
    assert 0.96 <= hits / len(samples) <= 0.995


def test_student_t_interval_covers_the_median_of_normal_noise():
    rng = np.random.default_rng(54321)
    samples = rng.normal(10.0, 1.0, size=(1500, 4))
    hits = 0
    for row in samples:
        s = summarize(row)
        assert s.ci_low is not None and s.ci_high is not None
        hits += s.ci_low <= 10.0 <= s.ci_high
    # Nominal 95%; binomial sd at 1500 trials is 0.56 points.
    assert 0.93 <= hits / len(samples) <= 0.97


@settings(max_examples=150, deadline=None)
@given(st.lists(finite_floats, min_size=2, max_size=40))
def test_interval_always_contains_the_sample_median(values):
    s = summarize(values)
    assert s.ci_low is not None and s.ci_high is not None
    slack = 1e-9 * max(1.0, abs(s.median))
    assert s.ci_low - slack <= s.median <= s.ci_high + slack
    assert s.min <= s.median <= s.max


@settings(max_examples=100, deadline=None)
@given(st.lists(finite_floats, min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_summary_does_not_depend_on_order(values, random):
    shuffled = list(values)
    random.shuffle(shuffled)
    a, b = summarize(values), summarize(shuffled)
    assert (a.median, a.min, a.max, a.ci_low, a.ci_high) == (
        b.median,
        b.min,
        b.max,
        b.ci_low,
        b.ci_high,
    )


def test_summary_round_trips_through_a_dict():
    s = summarize([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    assert Summary.from_dict(s.to_dict()) == s
    assert Summary.from_dict({**s.to_dict(), "added_later": 1}) == s
    with pytest.raises(ValueError, match="lacks median"):
        Summary.from_dict({k: v for k, v in s.to_dict().items() if k != "median"})


def test_summarize_rejects_a_bad_level():
    with pytest.raises(ValueError, match="level"):
        summarize([1.0, 2.0], level=95)


# --------------------------------------------------------------------------- compare


def test_compare_detects_a_30_percent_shift_with_ten_noisy_repeats():
    rng = np.random.default_rng(7)
    detected = 0
    for _ in range(50):
        c = compare(noisy(rng, 10), noisy(rng, 10, scale=1.3))
        detected += c.significant
        assert c.ratio is not None and c.ratio > 1.0
    assert detected >= 48  # power is ~100% for a 3-sigma effect at n=10


def test_compare_result_for_one_shifted_example():
    rng = np.random.default_rng(1)
    baseline, current = noisy(rng, 10), noisy(rng, 10, scale=1.3)
    c = compare(baseline, current)

    assert c.ratio == pytest.approx(statistics.median(current) / statistics.median(baseline))
    assert c.difference == pytest.approx(statistics.median(current) - statistics.median(baseline))
    assert c.test == "mann-whitney" and c.test_method == "exact"
    assert c.p_value is not None and c.p_value < 0.001
    assert c.significant is True
    assert c.ratio_ci_low is not None and c.ratio_ci_high is not None
    assert c.ratio_ci_low < c.ratio < c.ratio_ci_high
    assert c.ratio_ci_low > 1.0
    assert c.note is None
    assert str(BOOTSTRAP_SEED) in c.ci_method


def test_compare_rarely_flags_no_shift():
    # False-positive rate at alpha 0.05: the exact test's size at 10 vs 10 is about 4.3%, and
    # these seeded trials flag 2%. At least 95% must pass unflagged.
    rng = np.random.default_rng(2024)
    flagged = sum(compare(noisy(rng, 10), noisy(rng, 10)).significant for _ in range(200))
    assert flagged <= 10


def test_welch_also_rarely_flags_no_shift_and_detects_a_shift():
    rng = np.random.default_rng(99)
    flagged = sum(
        compare(noisy(rng, 10), noisy(rng, 10), test="welch").significant for _ in range(100)
    )
    assert flagged <= 9
    c = compare(noisy(rng, 10), noisy(rng, 10, scale=1.3), test="welch")
    assert c.test == "welch" and c.min_p_value is None
    assert c.significant


def test_ratio_interval_covers_the_true_ratio():
    rng = np.random.default_rng(31)
    hits = 0
    for _ in range(150):
        c = compare(noisy(rng, 10), noisy(rng, 10, scale=1.3))
        assert c.ratio_ci_low is not None and c.ratio_ci_high is not None
        hits += c.ratio_ci_low <= 1.3 <= c.ratio_ci_high
    # Percentile bootstrap of medians runs slightly under nominal at n=10 (about 93-95%).
    assert hits / 150 >= 0.88


def test_compare_is_reproducible():
    rng = np.random.default_rng(5)
    baseline, current = noisy(rng, 8), noisy(rng, 8, scale=1.1)
    assert compare(baseline, current) == compare(baseline, current)


@pytest.mark.parametrize(("n_base", "n_cur"), [(1, 10), (2, 2), (10, 2)])
def test_fewer_than_three_values_cannot_be_significant(n_base, n_cur):
    c = compare([1.0 + i / 100 for i in range(n_base)], [5.0 + i / 100 for i in range(n_cur)])

    assert c.p_value is None
    assert c.significant is False
    assert c.note is not None and "too few values" in c.note
    assert c.ratio_ci_low is None and c.difference_ci_low is None
    assert c.ratio == pytest.approx(c.current.median / c.baseline.median)


def test_three_per_side_says_significance_is_out_of_reach():
    c = compare([1.0, 1.1, 1.2], [5.0, 5.1, 5.2])

    assert c.min_p_value == pytest.approx(0.1)  # 2 / C(6, 3)
    assert c.p_value == pytest.approx(0.1)
    assert not c.significant
    assert c.note is not None and "at least 4 repeats" in c.note


def test_four_per_side_can_be_significant():
    c = compare([1.0, 1.1, 1.2, 1.3], [5.0, 5.1, 5.2, 5.3])
    assert c.p_value == pytest.approx(2 / 70)
    assert c.significant


def test_no_bootstrap_ratio_interval_below_six_values_per_side():
    c = compare([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])
    assert (c.ratio_ci_low, c.ratio_ci_high) == (None, None)
    assert "at least 6 values per side" in c.ci_method
    c6 = compare([1.0, 1.1, 1.2, 1.0, 1.1, 1.2], [2.0, 2.1, 2.2, 2.0, 2.1, 2.2])
    assert c6.ratio_ci_low is not None and c6.ratio_ci_low < c6.ratio < c6.ratio_ci_high


def test_all_values_identical_on_both_sides():
    for test in ("mann-whitney", "welch"):
        c = compare([3.0] * 6, [3.0] * 6, test=test)
        assert c.p_value == 1.0
        assert c.significant is False
        assert c.ratio == 1.0 and c.difference == 0.0
        assert (c.ratio_ci_low, c.ratio_ci_high) == (1.0, 1.0)
        assert c.note is not None and "identical" in c.note


def test_constant_but_different_sides():
    mw = compare([3.0] * 5, [4.0] * 5)
    assert mw.test_method is not None and "permutation" in mw.test_method
    assert mw.p_value == pytest.approx(2 / math.comb(10, 5))
    assert mw.significant

    welch = compare([3.0] * 5, [4.0] * 5, test="welch")
    assert welch.p_value == 0.0 and welch.significant
    assert welch.note is not None and "no spread" in welch.note


def test_ties_use_an_exact_permutation_matching_scipy():
    from scipy.stats import PermutationMethod, mannwhitneyu

    baseline, current = [1.0, 2.0, 2.0, 3.0, 3.0], [2.0, 3.0, 4.0, 4.0, 5.0]
    c = compare(baseline, current)
    reference = mannwhitneyu(current, baseline, method=PermutationMethod(n_resamples=10_000))
    assert c.test_method is not None and "permutation" in c.test_method
    assert c.p_value == pytest.approx(reference.pvalue)


def test_large_samples_with_ties_use_the_normal_approximation():
    rng = np.random.default_rng(3)
    baseline = list(np.round(rng.normal(10, 1, 30)))
    current = list(np.round(rng.normal(10, 1, 30)))
    c = compare(baseline, current)
    assert c.test_method is not None and "normal approximation" in c.test_method
    assert c.p_value is not None and 0.0 <= c.p_value <= 1.0


def test_non_positive_baseline_has_no_ratio_but_keeps_the_difference():
    c = compare([-1.0, 0.0, -0.5, 0.2, -0.2, 0.1], [1.0, 1.5, 2.0, 2.5, 1.2, 1.8])
    assert c.ratio is None and c.ratio_ci_low is None
    assert c.difference == pytest.approx(1.65 - (-0.1))
    assert c.difference_ci_low is not None and c.difference_ci_low > 0
    assert c.note is not None and "ratio is undefined" in c.note


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.1, 100.0), min_size=3, max_size=12))
def test_a_sample_against_itself_is_never_significant(values):
    c = compare(values, values)
    assert c.ratio == 1.0
    assert not c.significant


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test": "t-test"}, "unknown test"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 5}, "alpha"),
        ({"level": 1.0}, "level"),
    ],
)
def test_compare_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], **kwargs)


def test_compare_names_the_side_with_a_bad_value():
    with pytest.raises(ValueError, match=r"current\[1\] is NaN"):
        compare([1.0, 2.0, 3.0], [1.0, float("nan"), 3.0])
    with pytest.raises(ValueError, match="baseline is empty"):
        compare([], [1.0])


def test_comparison_round_trips_through_a_dict():
    c = compare([1.0, 1.2, 1.1, 0.9], [1.3, 1.4, 1.5, 1.2])
    data = c.to_dict()
    assert isinstance(data["baseline"], dict)
    assert Comparison.from_dict(data) == c
    assert c.relative_change == pytest.approx(c.ratio - 1.0)
