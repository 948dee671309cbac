"""Summaries of repeated measurements, and comparisons between two sets of them.

Pure math on plain floats: no units (the caller knows whether a value is joules or seconds), no
I/O, and nothing heavy at import: numpy is imported inside the functions that need it, so that
``greenbench --help`` stays fast; the distributions are :mod:`greenbench.distributions`.

Two entry points:

- :func:`summarize` -- median, mean, spread and a confidence interval of the *median* of one set of
  repeats, plus the coefficient of variation and the "CV above 10%" flag the runner shows.
- :func:`compare` -- a baseline against a current set: the ratio of medians with a bootstrap
  interval, and a significance test (Mann-Whitney U by default, Welch's t on request).

Both reject missing values (None, NaN, infinities) instead of dropping them: a failed repeat must be
seen and handled by the caller, never silently shrink the sample.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from itertools import chain, combinations
from typing import Any, Literal, TypeVar

from greenbench.distributions import mann_whitney_u_sf, midranks, normal_sf, t_ppf, t_sf

CI_LEVEL = 0.95
"""Confidence level of every interval unless the caller asks for another."""

HIGH_CV = 0.10
"""A coefficient of variation above this marks a result as noisy (METHODOLOGY: flag CV > 10%)."""

MIN_N_FOR_TEST = 3
#: the fewest values per side for a bootstrap interval of the ratio of medians (the same
#: bound as the distribution-free interval of one median, see summarize)
MIN_N_FOR_BOOTSTRAP = 6
"""Fewest repeats per side for which :func:`compare` runs a significance test."""

BOOTSTRAP_RESAMPLES = 4000
"""Resamples per side for the ratio interval: enough for stable 2.5/97.5 percentiles."""

BOOTSTRAP_SEED = 20240917
"""Fixed seed, so that the same data always give the same interval (and the same gate verdict)."""

TESTS = ("mann-whitney", "welch")
TestName = Literal["mann-whitney", "welch"]

# Above these sizes the cheaper approximation is as good as exact: the exact U distribution
# stays fast to 100 x 100 (0.13 s, once per pair of sizes), and enumerating every split of the
# pooled sample (needed only when there are ties) stays under ~50 ms up to 50,000 splits
# (9 + 9 values).
_EXACT_MAX_PAIRS = 10_000
_PERMUTATION_MAX_SPLITS = 50_000


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Summary:
    """Statistics over the repeats of one measurement.

    ``ci_low``/``ci_high`` bound the *median* at ``ci_level``; both are None for a single value.
    ``ci_method`` names how the interval was obtained and starts with a stable token:
    ``order-statistic``, ``student-t`` or ``none``. ``stdev`` is the sample standard deviation
    (n - 1 denominator), None for a single value. ``cv`` is ``stdev / |mean|`` (the absolute
    value because net energies may be negative), None when undefined (n < 2 or mean 0).
    ``high_cv`` is True when ``cv`` exceeds :data:`HIGH_CV`.
    """

    n: int
    median: float
    mean: float
    stdev: float | None
    min: float
    max: float
    ci_low: float | None
    ci_high: float | None
    ci_level: float
    ci_method: str
    cv: float | None
    high_cv: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class Comparison:
    """A current set of repeats against a baseline set.

    ``ratio`` is ``current.median / baseline.median`` (None when the baseline median is not
    positive, where a ratio means nothing); ``difference`` is ``current.median - baseline.median``.
    Their intervals (at ``ci_level``, method in ``ci_method``) are None when either side has fewer
    than :data:`MIN_N_FOR_TEST` values. ``test`` is the test asked for, ``test_method`` how its
    p-value was computed. ``p_value`` is None when no test could run; ``min_p_value`` is the
    smallest p-value the test could give at these sample sizes (Mann-Whitney only), so that a caller
    can tell "no difference" from "too few repeats to ever see one". ``significant`` is
    ``p_value < alpha``. ``note`` explains anything unusual, in plain words.
    """

    baseline: Summary
    current: Summary
    ratio: float | None
    ratio_ci_low: float | None
    ratio_ci_high: float | None
    difference: float
    difference_ci_low: float | None
    difference_ci_high: float | None
    ci_level: float
    ci_method: str
    test: str
    test_method: str | None
    p_value: float | None
    min_p_value: float | None
    alpha: float
    significant: bool
    note: str | None

    @property
    def relative_change(self) -> float | None:
        """``ratio - 1``: +0.31 means current is 31% higher than baseline."""
        return None if self.ratio is None else self.ratio - 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; the two summaries are nested dicts."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """Inverse of :meth:`to_dict`; unknown keys (from newer versions) are ignored."""
        values = _known_fields(cls, data)
        values["baseline"] = Summary.from_dict(values["baseline"])
        values["current"] = Summary.from_dict(values["current"])
        return cls(**values)


# --------------------------------------------------------------------------- summarize


def summarize(values: Sequence[float], *, level: float = CI_LEVEL,
              lower_bound: float | None = None) -> Summary:
    """Summarize repeats of one measurement, with a confidence interval of the median.

    The interval is chosen by sample size:

    - **n >= 6** (at 95%): the distribution-free order-statistic interval ``[x(k), x(n+1-k)]``
      with the largest ``k`` whose binomial coverage ``1 - 2 P(B <= k-1)``, ``B ~ Bin(n, 1/2)``,
      is at least ``level``. It assumes nothing about the shape of the noise (energy repeats are
      skewed: throttling and background work only ever add) and its coverage is exact, never
      below ``level``. It needs ``1 - 2 / 2**n >= level``, i.e. n >= 6 at 95%.
    - **2 <= n < 6**: Student's t interval around the mean, ``mean +/- t * s / sqrt(n)``. A
      bootstrap of the median was rejected here: a resampled median can never leave
      ``[min, max]``, and that range itself covers the median with only 75% (n = 3) to 94%
      (n = 5) probability, so any bootstrap interval undercovers. The t interval reaches its
      level for normal noise, widens honestly with so few values, estimates the median when the
      noise is symmetric, and always contains the sample median (``|mean - median|`` never
      exceeds the population standard deviation, which is below ``t * s / sqrt(n)`` here).
    - **n == 1**: no interval; ``ci_method`` says why.

    ``lower_bound`` is the smallest value the quantity can take (0 for energies, times and
    powers): a Student-t interval of few, spread values can reach below it, and is then cut
    there (``ci_method`` says so). Order-statistic intervals lie within the data already.

    Raises ValueError for an empty input and for None, NaN, infinite or non-numeric values.
    """
    _check_level(level)
    xs = _finite_values(values, "values")
    n = len(xs)
    ordered = sorted(xs)
    mean = statistics.fmean(xs)
    stdev = statistics.stdev(xs) if n >= 2 else None
    ci_low, ci_high, ci_method = _median_interval(ordered, mean, stdev, level)
    if lower_bound is not None and ci_low is not None and ci_low < lower_bound:
        ci_low = lower_bound
        ci_method += f"; cut at {lower_bound:g}, below which the quantity cannot go"
    cv = stdev / abs(mean) if stdev is not None and mean != 0 else None
    return Summary(
        n=n,
        median=statistics.median(ordered),
        mean=mean,
        stdev=stdev,
        min=ordered[0],
        max=ordered[-1],
        ci_low=ci_low,
        ci_high=ci_high,
        ci_level=level,
        ci_method=ci_method,
        cv=cv,
        high_cv=cv is not None and cv > HIGH_CV,
    )


# --------------------------------------------------------------------------- compare


def compare(
    baseline: Sequence[float],
    current: Sequence[float],
    alpha: float = 0.05,
    *,
    test: TestName = "mann-whitney",
    level: float = CI_LEVEL,
) -> Comparison:
    """Compare current repeats against baseline repeats.

    **Ratio interval: percentile bootstrap of the ratio of medians** (each side resampled
    independently, :data:`BOOTSTRAP_RESAMPLES` times, fixed :data:`BOOTSTRAP_SEED`). It bounds the
    same quantity as the point estimate (the ratio of medians), assumes no distribution, and works
    on the difference scale too (for absolute rules and for values that may be zero or negative).
    A log-scale Welch interval was rejected: it bounds the ratio of *geometric means*, so it could
    disagree with the reported median ratio, and it needs every value to be positive.

    **Test: two-sided Mann-Whitney U by default.** Energy repeats are few and right-skewed (a
    background task or thermal throttling only ever adds energy), so a rank test is robust where
    the t-test's normality assumption is not, and it loses little power on normal data. Its
    p-value is computed exactly when there are no ties (up to 100 x 100 values), by enumerating
    every split of the pooled values when there are ties and that is cheap (the exact U
    distribution assumes no ties, and the tie-corrected normal approximation is too liberal at
    small n: 3 vs 3 constant samples give p = 0.047 where the true p is 0.1), and by the tie-
    and continuity-corrected
    normal approximation otherwise. ``test="welch"`` runs Welch's unequal-variance t-test.

    Note that with 3 values per side no Mann-Whitney p-value can fall below 0.10; the comparison
    says so in ``note`` and in ``min_p_value``.

    With fewer than :data:`MIN_N_FOR_TEST` values on either side no test runs: ``p_value`` is
    None, ``significant`` False and ``note`` says why. When every value on both sides is the same,
    ``p_value`` is 1.0 (there is no difference to find).

    Raises ValueError for bad values (see :func:`summarize`), an unknown test, or alpha/level
    outside (0, 1).
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}: use one of {', '.join(TESTS)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    _check_level(level)
    base = _finite_values(baseline, "baseline")
    cur = _finite_values(current, "current")
    base_summary = summarize(base, level=level)
    cur_summary = summarize(cur, level=level)
    notes: list[str] = []

    ratio: float | None = None
    if base_summary.median > 0:
        ratio = cur_summary.median / base_summary.median
    else:
        notes.append(
            "the baseline median is not positive, so the ratio is undefined; "
            "compare differences instead"
        )

    intervals: _Intervals = (None, None, None, None)
    ci_method = "none: too few values for an interval"
    p_value: float | None = None
    min_p: float | None = None
    test_method: str | None = None
    if base_summary.n < MIN_N_FOR_TEST or cur_summary.n < MIN_N_FOR_TEST:
        notes.append(
            f"too few values to test significance (baseline n={base_summary.n}, "
            f"current n={cur_summary.n}; need at least {MIN_N_FOR_TEST} per side)"
        )
    else:
        if min(len(base), len(cur)) >= MIN_N_FOR_BOOTSTRAP:
            intervals, ci_note = _bootstrap_intervals(base, cur, level)
            ci_method = (
                f"percentile bootstrap of medians ({BOOTSTRAP_RESAMPLES} resamples, "
                f"seed {BOOTSTRAP_SEED})"
            )
            if ci_note:
                notes.append(ci_note)
        else:
            # a resampled median never leaves [min, max], which covers the median with only
            # 75-94% probability at n = 3-5: any bootstrap interval would undercover
            ci_method = (f"none: a bootstrap interval needs at least {MIN_N_FOR_BOOTSTRAP} "
                         "values per side")
        identical = len(set(base) | set(cur)) == 1
        if identical:
            notes.append("all values are identical on both sides: there is no difference to test")
        if test == "mann-whitney":
            min_p = _mann_whitney_min_p(len(base), len(cur))
            if min_p >= alpha:
                notes.append(
                    f"with n={len(base)} and n={len(cur)} the smallest possible Mann-Whitney "
                    f"p-value is {min_p:.3g}, not below alpha {alpha:g}: no difference can be "
                    f"significant; use at least {_mann_whitney_min_n(alpha)} repeats per side"
                )
        if identical:
            p_value, test_method = 1.0, "trivial: all values identical"
        elif test == "mann-whitney":
            p_value, test_method = _mann_whitney_p(base, cur)
        else:
            p_value, test_method, welch_note = _welch_p(base, cur)
            if welch_note:
                notes.append(welch_note)

    return Comparison(
        baseline=base_summary,
        current=cur_summary,
        ratio=ratio,
        ratio_ci_low=intervals[0],
        ratio_ci_high=intervals[1],
        difference=cur_summary.median - base_summary.median,
        difference_ci_low=intervals[2],
        difference_ci_high=intervals[3],
        ci_level=level,
        ci_method=ci_method,
        test=test,
        test_method=test_method,
        p_value=p_value,
        min_p_value=min_p,
        alpha=alpha,
        significant=p_value is not None and p_value < alpha,
        note="; ".join(notes) or None,
    )


# --------------------------------------------------------------------------- helpers: input

_D = TypeVar("_D", Summary, Comparison)


def _known_fields(cls: type[_D], data: Mapping[str, Any]) -> dict[str, Any]:
    names = [f.name for f in fields(cls)]
    missing = [name for name in names if name not in data]
    if missing:
        raise ValueError(f"{cls.__name__} data lacks {', '.join(missing)}")
    return {name: data[name] for name in names}


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be between 0 and 1, got {level!r}")


def _finite_values(values: Sequence[float], what: str) -> list[float]:
    """Validate and convert to floats, naming the first bad position."""
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{what} must be a sequence of numbers, not a string")
    xs: list[float] = []
    for i, value in enumerate(values):
        # None and NaN usually mean a failed repeat; dropping them would hide the failure and
        # make the sample look more precise than it is, so the caller must decide.
        if value is None:
            raise ValueError(f"{what}[{i}] is None: remove or re-run failed repeats first")
        if isinstance(value, (str, bytes, bool)):
            raise ValueError(f"{what}[{i}] is not a number: {value!r}")
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{i}] is not a number: {value!r}") from None
        if math.isnan(x):
            raise ValueError(f"{what}[{i}] is NaN: remove or re-run failed repeats first")
        if math.isinf(x):
            raise ValueError(f"{what}[{i}] is infinite: {value!r}")
        xs.append(x)
    if not xs:
        raise ValueError(f"{what} is empty: nothing to summarize")
    return xs


# --------------------------------------------------------------------------- helpers: summary


def _median_interval(
    ordered: list[float], mean: float, stdev: float | None, level: float
) -> tuple[float | None, float | None, str]:
    """(low, high, method) for the median of sorted values; see :func:`summarize`."""
    n = len(ordered)
    if n == 1 or stdev is None:
        return None, None, "none: a single value has no spread"
    rank = _order_statistic_rank(n, level)
    if rank is not None:
        k, coverage = rank
        return (
            ordered[k - 1],
            ordered[n - k],
            f"order-statistic: x({k})..x({n + 1 - k}) of {n}, binomial coverage {coverage:.1%}",
        )
    half_width = t_ppf((1.0 + level) / 2.0, n - 1) * stdev / math.sqrt(n)
    return (
        mean - half_width,
        mean + half_width,
        f"student-t: mean +/- t*s/sqrt(n); n={n} is too few for an order-statistic "
        f"interval at {level:.0%}",
    )


def _order_statistic_rank(n: int, level: float) -> tuple[int, float] | None:
    """Largest k (1-based) with P(k <= B <= n-k) >= level for B ~ Bin(n, 1/2), and that coverage.

    None when even [x(1), x(n)] falls short of ``level``.
    """
    tail = (1.0 - level) / 2.0
    log_norm = math.lgamma(n + 1) - n * math.log(2.0)
    cdf = 0.0  # P(B <= j - 1) at the top of each pass
    k = 0
    for j in range(n // 2 + 1):
        # Log-space binomial terms: math.comb / 2**n would overflow a float beyond n ~ 1000.
        next_cdf = cdf + math.exp(log_norm - math.lgamma(j + 1) - math.lgamma(n - j + 1))
        if next_cdf > tail:
            break
        cdf = next_cdf
        k = j + 1
    if k == 0:
        return None
    return k, 1.0 - 2.0 * cdf


# --------------------------------------------------------------------------- helpers: compare

# (ratio low, ratio high, difference low, difference high)
_Intervals = tuple[float | None, float | None, float | None, float | None]


def _bootstrap_intervals(
    base: list[float], cur: list[float], level: float
) -> tuple[_Intervals, str | None]:
    """Percentile bootstrap intervals of the ratio and the difference of medians."""
    import numpy as np

    rng = np.random.default_rng(BOOTSTRAP_SEED)
    b = np.asarray(base)
    c = np.asarray(cur)
    base_medians = np.median(b[rng.integers(0, b.size, (BOOTSTRAP_RESAMPLES, b.size))], axis=1)
    cur_medians = np.median(c[rng.integers(0, c.size, (BOOTSTRAP_RESAMPLES, c.size))], axis=1)
    quantiles = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    diff_low, diff_high = (float(q) for q in np.quantile(cur_medians - base_medians, quantiles))
    if not np.all(base_medians > 0):
        # A resampled baseline median at or below zero makes the ratio unbounded.
        note = None
        if np.median(b) > 0:
            note = "the baseline has values at or below zero, so the ratio has no interval"
        return (None, None, diff_low, diff_high), note
    ratio_low, ratio_high = (float(q) for q in np.quantile(cur_medians / base_medians, quantiles))
    return (ratio_low, ratio_high, diff_low, diff_high), None


def _mann_whitney_p(base: list[float], cur: list[float]) -> tuple[float, str]:
    """Two-sided Mann-Whitney p-value and how it was computed; see :func:`compare`."""
    n_base, n_cur = len(base), len(cur)
    pooled = base + cur
    ranks = midranks(pooled)
    u_cur = sum(ranks[n_base:]) - n_cur * (n_cur + 1) / 2.0
    u = max(u_cur, n_base * n_cur - u_cur)  # the farther of the two tails
    has_ties = len(set(pooled)) < len(pooled)
    if not has_ties and n_base * n_cur <= _EXACT_MAX_PAIRS:
        return min(1.0, 2.0 * mann_whitney_u_sf(u, n_base, n_cur)), "exact"
    if has_ties and math.comb(n_base + n_cur, n_base) <= _PERMUTATION_MAX_SPLITS:
        return _rank_sum_permutation_p(ranks, n_base), "exact permutation (ties present)"
    n = n_base + n_cur
    ties = sum(t ** 3 - t for t in Counter(pooled).values())
    sd = math.sqrt(n_base * n_cur / 12.0 * ((n + 1) - ties / (n * (n - 1))))
    z = (u - n_base * n_cur / 2.0 - 0.5) / sd
    return (min(1.0, 2.0 * normal_sf(z)),
            "normal approximation (tie- and continuity-corrected)")


def _rank_sum_permutation_p(ranks: list[float], k: int) -> float:
    """Exact two-sided p of the rank sum of the first ``k`` ranks over every split of them all."""
    import numpy as np

    pooled = np.asarray(ranks)
    n = pooled.size
    observed = float(pooled[:k].sum())
    expected = k * (n + 1) / 2.0
    splits = np.fromiter(chain.from_iterable(combinations(range(n), k)), dtype=np.intp)
    sums = pooled[splits.reshape(-1, k)].sum(axis=1)
    # Midranks are multiples of 1/2, so sums are exact; the tolerance only guards the subtraction.
    extreme = np.abs(sums - expected) >= abs(observed - expected) - 1e-9
    return float(np.mean(extreme))


def _mann_whitney_min_p(n_base: int, n_cur: int) -> float:
    """Smallest two-sided p the exact test can give: both extreme splits out of C(n, k)."""
    return min(1.0, 2.0 / math.comb(n_base + n_cur, n_base))


def _mann_whitney_min_n(alpha: float) -> int:
    """Fewest repeats per side (equal sides) at which Mann-Whitney can reach p < alpha."""
    n = 2
    while _mann_whitney_min_p(n, n) >= alpha:
        n += 1
    return n


def _welch_p(base: list[float], cur: list[float]) -> tuple[float | None, str | None, str | None]:
    """Welch's t-test p-value, method and a note for the degenerate cases."""
    if statistics.pvariance(base) == 0 and statistics.pvariance(cur) == 0:
        # Both sides constant but different (identical sides are handled by the caller): t is
        # infinite; the difference is exact, so p is 0.
        return 0.0, "welch", "no spread within either side: Welch's t is infinite"
    n_base, n_cur = len(base), len(cur)
    var_base = statistics.variance(base) / n_base
    var_cur = statistics.variance(cur) / n_cur
    t = (statistics.fmean(cur) - statistics.fmean(base)) / math.sqrt(var_base + var_cur)
    # Welch-Satterthwaite degrees of freedom
    df = (var_base + var_cur) ** 2 / (var_base ** 2 / (n_base - 1) + var_cur ** 2 / (n_cur - 1))
    if not (math.isfinite(t) and df > 0):  # spreads so small that their squares underflow
        return None, None, "Welch's t-test gave no p-value for these values"
    return min(1.0, 2.0 * t_sf(abs(t), df)), "welch", None
