"""Paired comparison of two interleaved series: the Wilcoxon signed-rank test on log ratios.

When A and B are measured alternately (A B, B A, A B, ...), round *i* of A and round *i* of B
ran seconds apart and share whatever the machine was doing then; their ratio cancels it. What
is left to test is the series of paired log ratios ``d_i = log(B_i / A_i)``.

**Why the Wilcoxon signed-rank test, and not a bootstrap of the paired ratios.** The gate
works with one to a few dozen pairs. At that size a percentile bootstrap of the mean or median ratio
undercovers (a resampled median cannot leave the sample's range; see greenbench.stats), while
the signed-rank test is exact and assumes only that, without a change, ``d_i`` is symmetric
about 0. The interleaving guarantees that: with no change A and B are exchangeable within a
pair, and alternating which goes first turns any order effect into a symmetric +/-. It uses
ranks, so one round hit by a burst of foreign load moves it by one rank, not by its size; the
log scale makes +20% and -17% (1.2 and 1/1.2) equal and opposite.

- **p-value**: two-sided, exact, from the permutation distribution of the signed-rank sum
  over every flip of the non-zero signs (a dynamic programme, so any n is cheap), with
  midranks for ties and Pratt's treatment of zero differences (ranked, never signed). Exact
  even with the ties that a CPU-time estimate's 10 ms ticks produce.
- **estimate and interval**: the Hodges-Lehmann estimate (median of the Walsh averages
  ``(d_i + d_j) / 2``, i <= j), the estimate that goes with this test, and its
  distribution-free interval between the k-th smallest and k-th largest Walsh averages. The
  ratio reported is ``exp`` of both. With fewer than 6 pairs no 95% interval exists (and no
  p-value can fall below 0.05): the comparison says so. Pairs that came out exactly equal do
  not count against the design: they are evidence of no change, so a series that is mostly
  ties is "unchanged", with the interval bounding the change, not "too few pairs".

The result is a :class:`greenbench.stats.Comparison` (``test="wilcoxon"``), so the gate's
rules and verdicts apply to it unchanged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from greenbench.distributions import midranks
from greenbench.stats import CI_LEVEL, Comparison, summarize

TEST = "wilcoxon"
TEST_NAME = "Wilcoxon signed-rank on paired log ratios"


def paired_compare(
    baseline: Sequence[float],
    current: Sequence[float],
    alpha: float = 0.05,
    *,
    level: float = CI_LEVEL,
) -> Comparison:
    """Compare ``current[i]`` with ``baseline[i]`` pair by pair (see the module docstring).

    The two sequences must have the same length. The ratio and its interval need every value
    positive (energy and time are); otherwise only the difference is compared. Raises
    ValueError for unequal lengths or bad values.
    """
    if len(baseline) != len(current):
        raise ValueError(f"paired values need equal lengths, got {len(baseline)} and "
                         f"{len(current)}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    base_summary = summarize(baseline, level=level)
    cur_summary = summarize(current, level=level)
    base = [float(x) for x in baseline]
    cur = [float(x) for x in current]
    diffs = [c - b for b, c in zip(base, cur, strict=True)]
    positive = all(x > 0 for x in base + cur)
    logs = [math.log(c / b) for b, c in zip(base, cur, strict=True)] if positive else None
    tested = logs if logs is not None else diffs
    n = len(tested)
    notes: list[str] = []
    if not positive:
        notes.append("values at or below zero: no ratio, the test runs on differences")

    p_value, data_min_p = signed_rank_p(tested)
    # What n pairs can show is the design's limit; pairs that came out exactly equal (a
    # CPU-time estimate's ticks) are evidence of no change, not a reason to call it untestable.
    min_p = min(1.0, 2 / 2 ** n) if n else 1.0
    nonzero = sum(1 for d in tested if d != 0)
    if min_p >= alpha:
        notes.append(f"with {n} pair(s) the smallest possible p-value is {min_p:.3g}, not "
                     f"below alpha {alpha:g}: measure more rounds "
                     f"(at least {_min_pairs(alpha)} pairs)")
    elif data_min_p >= alpha:
        notes.append(f"{n - nonzero} of {n} pairs are exactly equal, so no change can reach "
                     f"p < {alpha:g}: the interval bounds the change")
    ratio = ratio_low = ratio_high = None
    if logs is not None:
        ratio = math.exp(hodges_lehmann(logs))
        bounds = walsh_interval(logs, level)
        if bounds is not None:
            ratio_low, ratio_high = math.exp(bounds[0]), math.exp(bounds[1])
    diff_bounds = walsh_interval(diffs, level)
    k = _walsh_rank(n, level)
    ci_method = ("none: fewer pairs than a distribution-free interval needs" if k is None else
                 f"Hodges-Lehmann, Walsh averages {k} to {n * (n + 1) // 2 + 1 - k} of "
                 f"{n * (n + 1) // 2} ({n} pairs)")
    return Comparison(
        baseline=base_summary,
        current=cur_summary,
        ratio=ratio,
        ratio_ci_low=ratio_low,
        ratio_ci_high=ratio_high,
        difference=hodges_lehmann(diffs),
        difference_ci_low=diff_bounds[0] if diff_bounds else None,
        difference_ci_high=diff_bounds[1] if diff_bounds else None,
        ci_level=level,
        ci_method=ci_method,
        test=TEST,
        test_method="exact signed-rank permutation (midranks, Pratt zeros)",
        p_value=p_value,
        min_p_value=min_p,
        alpha=alpha,
        significant=p_value < alpha,
        note="; ".join(notes) or None,
    )


def signed_rank_p(diffs: Sequence[float]) -> tuple[float, float]:
    """(two-sided exact p, smallest p possible) of the signed-rank sum of ``diffs``.

    Ranks of ``|d|`` with midranks for ties; zeros are ranked (Pratt) but carry no sign, so
    they are never flipped. With no non-zero difference p is 1.
    """
    ranks = midranks([abs(d) for d in diffs])
    # midranks are multiples of 1/2: doubled, every rank is an integer
    signed = [(round(2 * r), d > 0) for r, d in zip(ranks, diffs, strict=True) if d != 0]
    if not signed:
        return 1.0, 1.0
    total = sum(r for r, _ in signed)
    observed = sum(r for r, up in signed if up)
    counts = [0] * (total + 1)  # counts[s]: sign patterns whose positive ranks sum to s
    counts[0] = 1
    for r, _ in signed:
        for s in range(total, r - 1, -1):
            counts[s] += counts[s - r]
    patterns = 2 ** len(signed)
    centre = total / 2
    extreme = sum(c for s, c in enumerate(counts) if abs(s - centre) >= abs(observed - centre))
    return min(1.0, extreme / patterns), min(1.0, 2 / patterns)


def hodges_lehmann(values: Sequence[float]) -> float:
    """Median of the Walsh averages ``(x_i + x_j) / 2`` over i <= j."""
    return statistics.median(_walsh(values))


def walsh_interval(values: Sequence[float], level: float = CI_LEVEL) -> tuple[float, float] | None:
    """Distribution-free interval of the centre of a symmetric distribution, from the Walsh
    averages (None when there are too few values for ``level``)."""
    k = _walsh_rank(len(values), level)
    if k is None:
        return None
    walsh = sorted(_walsh(values))
    return walsh[k - 1], walsh[len(walsh) - k]


def _walsh(values: Sequence[float]) -> list[float]:
    xs = list(values)
    return [(xs[i] + xs[j]) / 2 for i in range(len(xs)) for j in range(i, len(xs))]


def _walsh_rank(n: int, level: float) -> int | None:
    """Largest k with P(W+ < k) <= (1 - level) / 2 for the signed-rank sum of n untied values,
    so that [k-th smallest, k-th largest Walsh average] covers with at least ``level``."""
    if n < 1:
        return None
    total = n * (n + 1) // 2
    counts = [0] * (total + 1)
    counts[0] = 1
    for r in range(1, n + 1):
        for s in range(total, r - 1, -1):
            counts[s] += counts[s - r]
    tail = (1.0 - level) / 2
    cumulative = 0
    k = 0
    for s in range(total + 1):
        cumulative += counts[s]
        if cumulative / 2**n > tail:
            break
        k = s + 1
    return k or None


def _min_pairs(alpha: float) -> int:
    n = 1
    while 2 / 2**n >= alpha:
        n += 1
    return n
