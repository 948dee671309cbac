"""greenbench.distributions against scipy (a test dependency only) and against closed forms.

The plain install has no scipy; these are the figures every interval and test rests on, so each
function is checked on a grid that covers what the intervals, the gate and Welch's test ask
(few degrees of freedom, non-integer ones, far tails) to a relative 1e-10.
"""

from __future__ import annotations

import itertools
import math
import random
import subprocess
import sys

import pytest
from scipy import stats as reference

from greenbench import distributions as d
from greenbench.stats import compare

RELATIVE = 1e-10


def _close(ours: float, theirs: float) -> bool:
    # below 1e-300 both are in floating point's subnormal range, where digits run out
    return abs(ours - theirs) <= max(RELATIVE * abs(theirs), 1e-300)


def _degrees(rng: random.Random) -> float:
    return float(rng.choice([1, 2, 3, 4, 5, 9, 29])) if rng.random() < 0.4 \
        else math.exp(rng.uniform(-1.0, 10.0))


def test_t_tail_matches_scipy_from_the_centre_to_far_out() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        df = _degrees(rng)
        t = rng.uniform(-6.0, 6.0) if rng.random() < 0.5 else math.exp(rng.uniform(-12.0, 9.0))
        theirs = float(reference.t.sf(t, df))
        assert _close(d.t_sf(t, df), theirs), (t, df)


def test_t_quantiles_match_scipy_in_both_tails() -> None:
    rng = random.Random(2)
    for _ in range(1500):
        df = _degrees(rng)
        q = rng.choice([rng.uniform(0.001, 0.499), rng.uniform(0.501, 0.999),
                        1e-9, 1e-5, 0.025, 0.975, 0.995, 1 - 1e-7])
        assert _close(d.t_ppf(q, df), float(reference.t.ppf(q, df))), (q, df)


@pytest.mark.parametrize("q", [0.5 + 1e-7, 0.5 + 1e-4, 0.6, 0.74])
def test_t_quantiles_near_the_median_keep_their_digits(q: float) -> None:
    # closed forms: df = 1 is the Cauchy distribution, df = 2 has t = (2q - 1) / sqrt(2q(1 - q))
    assert d.t_ppf(q, 1) == pytest.approx(math.tan(math.pi * (q - 0.5)), rel=1e-13)
    assert d.t_ppf(q, 2) == pytest.approx((2 * q - 1) / math.sqrt(2 * q * (1 - q)), rel=1e-13)
    assert d.t_ppf(0.5, 7) == 0.0
    assert d.t_ppf(1 - q, 3) == -d.t_ppf(q, 3)


def test_the_interval_quantiles_greenbench_uses_are_the_textbook_ones() -> None:
    # t(0.975) for 1..5 degrees of freedom, as printed in every table
    printed = [12.706, 4.303, 3.182, 2.776, 2.571]
    assert [round(d.t_ppf(0.975, df), 3) for df in range(1, 6)] == printed


def test_t_infinite_and_bad_arguments() -> None:
    assert d.t_sf(math.inf, 3) == 0.0
    assert d.t_sf(-math.inf, 3) == 1.0
    assert d.t_sf(0.0, 3) == 0.5
    with pytest.raises(ValueError, match="degrees of freedom"):
        d.t_sf(1.0, 0)
    with pytest.raises(ValueError, match="NaN"):
        d.t_sf(math.nan, 3)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        d.t_ppf(1.0, 3)


def test_beta_distribution_matches_scipy() -> None:
    rng = random.Random(3)
    for _ in range(1500):
        a, b = math.exp(rng.uniform(-1.5, 7.0)), math.exp(rng.uniform(-1.5, 7.0))
        x = rng.random() if rng.random() < 0.7 else math.exp(rng.uniform(-20.0, 0.0))
        theirs = float(reference.beta.cdf(x, a, b))
        if theirs > 1e-250:
            assert _close(d.beta_cdf(x, a, b), theirs), (x, a, b)
        q = rng.uniform(0.001, 0.999)
        assert _close(d.beta_ppf(q, a, b), float(reference.beta.ppf(q, a, b))), (q, a, b)
    assert (d.beta_cdf(0.0, 2, 3), d.beta_cdf(1.0, 2, 3)) == (0.0, 1.0)
    with pytest.raises(ValueError, match="beta shapes"):
        d.beta_cdf(0.5, 0, 1)


def test_clopper_pearson_upper_bounds_match_scipy() -> None:
    for failed in range(0, 12):
        for runs in range(failed + 1, 80, 7):
            ours = d.beta_ppf(0.95, failed + 1, runs - failed)
            assert _close(ours, float(reference.beta.ppf(0.95, failed + 1, runs - failed)))


def test_normal_distribution_matches_scipy() -> None:
    for z in (-8.0, -1.96, 0.0, 0.5, 1.6449, 5.0, 12.0, 37.0):
        assert _close(d.normal_sf(z), float(reference.norm.sf(z))), z
    for q in (1e-12, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-9):
        assert d.normal_ppf(q) == pytest.approx(float(reference.norm.ppf(q)), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("n1", "n2"), [(1, 1), (2, 5), (3, 3), (6, 6), (5, 9), (7, 11)])
def test_exact_u_distribution_matches_every_ordering_counted(n1: int, n2: int) -> None:
    # U of the first sample = how many (first, second) pairs have the first value larger
    n = n1 + n2
    seen = [sum(1 for i in first for j in range(n) if j not in first and i > j)
            for first in (set(c) for c in itertools.combinations(range(n), n1))]
    for u in range(n1 * n2 + 2):
        expected = sum(1 for x in seen if x >= u) / len(seen)
        assert _close(d.mann_whitney_u_sf(u, n1, n2), expected), u
    assert d.mann_whitney_u_sf(0, n1, n2) == 1.0
    assert d.mann_whitney_u_sf(n1 * n2 + 1, n1, n2) == 0.0


def test_exact_u_counts_are_every_ordering_once() -> None:
    counts = d._u_counts(4, 6)
    assert sum(counts) == math.comb(10, 4)
    assert counts == counts[::-1]  # U and n1*n2 - U are equally likely
    assert min(counts) >= 0


def test_midranks_share_the_mean_rank() -> None:
    assert d.midranks([3.0, 1.0, 3.0, 2.0, 3.0]) == [4.0, 1.0, 4.0, 2.0, 4.0]
    values = [random.Random(4).choice([0.1, 0.2, 0.3]) for _ in range(30)]
    assert d.midranks(values) == list(reference.rankdata(values))


def test_compare_gives_scipys_mann_whitney_and_welch_p_values() -> None:
    rng = random.Random(5)
    for _ in range(150):
        n_base, n_cur = rng.randint(3, 40), rng.randint(3, 40)
        tied = rng.random() < 0.5
        base = [round(rng.gauss(10, 1), 0 if tied else 9) for _ in range(n_base)]
        cur = [round(rng.gauss(10.5, 1.5), 0 if tied else 9) for _ in range(n_cur)]
        if len(set(base) | set(cur)) == 1:
            continue
        ours = compare(base, cur)
        assert ours.test_method is not None and ours.p_value is not None
        if ours.test_method == "exact":
            theirs = reference.mannwhitneyu(cur, base, method="exact").pvalue
        elif ours.test_method.startswith("normal approximation"):
            theirs = reference.mannwhitneyu(cur, base, method="asymptotic").pvalue
        else:
            continue  # the permutation path is checked in tests/test_stats.py
        assert _close(ours.p_value, float(theirs)), (base, cur, ours.test_method)
        welch = compare(base, cur, test="welch")
        theirs = reference.ttest_ind(cur, base, equal_var=False).pvalue
        assert welch.p_value is not None and _close(welch.p_value, float(theirs))


def test_the_statistics_never_import_scipy() -> None:
    code = """
import sys
from greenbench.ab.calibrate import smallest_detectable
from greenbench.paired import paired_compare
from greenbench.stats import compare, summarize
summarize([1.0, 1.2, 1.1])
compare([1.0, 1.1, 1.2, 1.3], [1.4, 1.5, 1.6, 1.8])
compare([1.0, 1.0, 1.2, 1.3], [1.4, 1.5, 1.5, 1.8])
compare([float(i % 7) for i in range(40)], [float(i % 5) for i in range(40)])
compare([1.0, 1.1, 1.2, 1.3], [1.4, 1.5, 1.6, 1.8], test="welch")
paired_compare([1.0, 1.1, 1.2, 1.3, 1.2, 1.1], [1.4, 1.5, 1.6, 1.8, 1.5, 1.6])
smallest_detectable(0.05, 8, 0.05)
print("scipy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
