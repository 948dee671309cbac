"""Regression rules and verdicts, shared by ``greenbench compare`` and the pytest plugin.

A rule such as ``energy_per_unit:5%`` or ``time:20ms`` names a metric and how much worse the current
result may be than the baseline. A regression needs both: the change exceeds the threshold *and*
the comparison says it is statistically significant (METHODOLOGY, "Gates"). Every compared metric
gets a :class:`Verdict`, with a one-line explanation, whether or not a rule gates it.

Pure logic over :class:`greenbench.stats.Comparison` objects: no I/O, nothing heavy at import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from greenbench import metrics
from greenbench.errors import UserError
from greenbench.stats import Comparison
from greenbench.units import fmt_percent, fmt_quantity, fmt_range

# Exit codes of ``greenbench compare`` (and of anything else that gates).
EXIT_OK = 0
EXIT_REGRESSED = 1
EXIT_ERROR = 2
EXIT_NOTHING_COMPARABLE = 3

METRICS: dict[str, tuple[str, str]] = {
    m.name: (m.key, m.unit) for m in metrics.METRICS if m.lower_is_better
}
"""Metric name a user writes -> (result key, SI unit), from greenbench.metrics: the per-step
figures for which lower is better."""

UNITS: dict[str, dict[str, float]] = {
    "J": {"J": 1.0, "mJ": 1e-3, "kJ": 1e3, "Wh": 3600.0, "kWh": 3.6e6},
    "s": {"s": 1.0, "ms": 1e-3},
    "W": {"W": 1.0, "mW": 1e-3},
}
"""SI unit of a metric -> units a rule may use for it, with the factor to that SI unit."""

RULE_FORMS = (
    "use METRIC:N% or METRIC:AMOUNTUNIT, METRIC one of "
    + ", ".join(METRICS)
    + " (e.g. energy:5%, energy_per_unit:10%, energy:0.5J, time:20ms)"
)

Status = Literal["improved", "unchanged", "regressed", "not comparable"]
IMPROVED: Status = "improved"
UNCHANGED: Status = "unchanged"
REGRESSED: Status = "regressed"
NOT_COMPARABLE: Status = "not comparable"

UNGATED_TOLERANCE = 0.01
"""A metric no rule names is called improved or regressed only when significant *and* more
than 1% off (a significant 0.4% is "unchanged (within the 1% tolerance)"); where the baseline
median is not positive, and so no ratio exists, by the sign of the significant difference."""


class RuleError(UserError, ValueError):
    """A rule that does not parse; the one-line message names the accepted forms."""


@dataclass(frozen=True)
class Rule:
    """How much worse a metric may get.

    ``kind`` is ``relative`` (``threshold`` a fraction: 0.05 for 5%) or ``absolute``
    (``threshold`` in the metric's SI ``unit``: J, s or W). ``text`` is what the user wrote.
    """

    metric: str
    key: str
    kind: Literal["relative", "absolute"]
    threshold: float
    unit: str
    text: str

    @property
    def threshold_label(self) -> str:
        """The threshold as the user wrote it (``5%``, ``20ms``)."""
        _, colon, written = self.text.partition(":")
        if colon and written.strip():
            return written.strip()
        if self.kind == "relative":
            return f"{self.threshold * 100:g}%"
        return f"{self.threshold:g}{self.unit}"


@dataclass(frozen=True)
class Verdict:
    """The outcome for one metric: ``status``, why (``reason`` when not comparable), and a line.

    ``rule`` is None for a metric that was compared but not gated: it is classified against
    :data:`UNGATED_TOLERANCE` for information and never fails the gate.
    """

    metric: str
    key: str
    status: Status
    explanation: str
    rule: Rule | None
    comparison: Comparison | None
    reason: str | None = None

    @property
    def gated(self) -> bool:
        """True when a rule decides this verdict, so it can fail the gate."""
        return self.rule is not None

    @property
    def regressed(self) -> bool:
        """True for a gated regression: the thing that makes the gate fail."""
        return self.gated and self.status == REGRESSED


# --------------------------------------------------------------------------- parsing

# METRIC : NUMBER UNIT, spaces allowed around each part. The sign is captured so that a negative
# threshold gets its own message rather than "does not parse".
_RULE = re.compile(
    r"""^\s*(?P<metric>[A-Za-z_]+)\s*:\s*
    (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*
    (?P<unit>%|[A-Za-z]+)\s*$""",
    re.VERBOSE,
)
_BARE_NUMBER = re.compile(r"^\s*[A-Za-z_]+\s*:\s*[-+]?[\d.]+\s*$")


def parse_rule(text: str) -> Rule:
    """Parse ``METRIC:N%`` or ``METRIC:AMOUNT UNIT`` (``energy:0.5J``, ``time:20 ms``).

    Units: J, mJ, kJ, Wh, kWh for the energy metrics; s, ms for time; W, mW for power. Units are
    case-sensitive because mJ and MJ differ by a factor of 10^9. Raises :class:`RuleError` for
    anything else, including an unknown metric, a unit that does not fit the metric, and a
    negative threshold.
    """
    match = _RULE.match(text)
    if match is None:
        if ":" not in text:
            raise _rule_error(text, "missing ':' between metric and threshold")
        if _BARE_NUMBER.match(text):
            raise _rule_error(text, "missing % or unit after the number")
        raise _rule_error(text)
    metric = match["metric"].lower()
    if metric not in METRICS:
        raise _rule_error(text, f"unknown metric {match['metric']!r}")
    key, si_unit = METRICS[metric]
    amount = float(match["number"])
    if not math.isfinite(amount):
        raise _rule_error(text, "the threshold must be a finite number")
    if amount < 0:
        raise _rule_error(text, "the threshold must not be negative")
    unit = match["unit"]
    if unit == "%":
        return Rule(metric, key, "relative", amount / 100.0, si_unit, text)
    factors = UNITS[si_unit]
    if unit not in factors:
        raise _rule_error(
            text, f"unit {unit!r} does not fit {metric} (use % or {', '.join(factors)})"
        )
    return Rule(metric, key, "absolute", amount * factors[unit], si_unit, text)


def _rule_error(text: str, problem: str | None = None) -> RuleError:
    detail = f": {problem}" if problem else ""
    return RuleError(f"bad rule {text!r}{detail}: {RULE_FORMS}")


# --------------------------------------------------------------------------- verdicts


def evaluate(rule: Rule, comparison: Comparison | None, *, alpha: float | None = None) -> Verdict:
    """Judge one comparison against one rule.

    ``regressed``: current is worse than baseline by more than the threshold (relative:
    ``ratio - 1 > threshold``; absolute: median difference > amount) and the difference is
    significant (``p < alpha``). ``improved``: significantly better by more than the same
    threshold; the band is symmetric so that a change the rule calls too small to matter is
    ``unchanged`` in either direction. ``not comparable``: no data, too few repeats for the test
    to ever reach ``alpha``, or a relative rule on a non-positive baseline. ``alpha`` defaults to
    the comparison's own.
    """
    return _judge(rule.metric, rule.key, comparison, rule, alpha)


def verdict_for(
    comparisons_by_metric: Mapping[str, Comparison | None],
    rules: Sequence[Rule],
    alpha: float = 0.05,
) -> list[Verdict]:
    """One verdict per rule, in rule order, then one per compared metric that no rule names.

    ``comparisons_by_metric`` is keyed by metric name (``energy``) or result key (``energy_j``);
    a missing entry or None means that metric has no data on one side. Keys that are not
    :data:`METRICS` are skipped: whether lower is better is unknown for them. Ungated verdicts
    classify against :data:`UNGATED_TOLERANCE` and never fail :func:`overall_exit_code`.
    """
    by_metric = _by_metric_name(comparisons_by_metric)
    verdicts = [_judge(r.metric, r.key, by_metric.get(r.metric), r, alpha) for r in rules]
    gated = {r.metric for r in rules}
    for metric, comparison in by_metric.items():
        if metric not in gated:
            verdicts.append(_judge(metric, METRICS[metric][0], comparison, None, alpha))
    return verdicts


def overall_exit_code(verdicts: Iterable[Verdict]) -> int:
    """EXIT_REGRESSED if any gated verdict regressed; else EXIT_NOTHING_COMPARABLE if nothing
    that counts could be compared (the gated verdicts when there are rules, else all of them);
    else EXIT_OK. EXIT_ERROR is for the caller's own failures and never comes from here.
    """
    verdicts = list(verdicts)
    if any(v.regressed for v in verdicts):
        return EXIT_REGRESSED
    counted = [v for v in verdicts if v.gated] or verdicts
    if all(v.status == NOT_COMPARABLE for v in counted):
        return EXIT_NOTHING_COMPARABLE
    return EXIT_OK


# --------------------------------------------------------------------------- helpers


def _by_metric_name(
    comparisons: Mapping[str, Comparison | None],
) -> dict[str, Comparison | None]:
    """Re-key by metric name, accepting result keys too; unknown names are dropped."""
    name_of_key = {key: name for name, (key, _) in METRICS.items()}
    by_metric: dict[str, Comparison | None] = {}
    for name, comparison in comparisons.items():
        metric = name if name in METRICS else name_of_key.get(name)
        # Prefer an entry with data when both spellings are present.
        if metric is not None and by_metric.get(metric) is None:
            by_metric[metric] = comparison
    return by_metric


_TEST_NAMES = {"mann-whitney": "Mann-Whitney U", "welch": "Welch's t-test",
               "wilcoxon": "the Wilcoxon signed-rank test"}


def _judge(
    metric: str,
    key: str,
    comparison: Comparison | None,
    rule: Rule | None,
    alpha: float | None,
) -> Verdict:
    """Classify one comparison; ``rule`` None means an ungated verdict, classified against
    :data:`UNGATED_TOLERANCE`."""

    def not_comparable(reason: str) -> Verdict:
        explanation = f"{metric}: not comparable: {reason}"
        return Verdict(metric, key, NOT_COMPARABLE, explanation, rule, comparison, reason)

    if comparison is None:
        return not_comparable(f"no {key} values on one or both sides")
    alpha = comparison.alpha if alpha is None else alpha
    if comparison.p_value is None:
        return not_comparable(comparison.note or "no significance test could run")
    if comparison.min_p_value is not None and comparison.min_p_value >= alpha:
        return not_comparable(
            f"n={comparison.baseline.n} vs {comparison.current.n} is too few for "
            f"{_TEST_NAMES.get(comparison.test, comparison.test)} to reach p < {alpha:g} "
            f"(smallest possible p={comparison.min_p_value:.3g}); add repeats"
        )

    relative = rule is None or rule.kind == "relative"
    if rule is not None and rule.kind == "relative" and comparison.ratio is None:
        return not_comparable(
            "the baseline median is not positive, so a relative threshold means nothing; "
            f"use an absolute rule such as {metric}:1{rule.unit}"
        )
    # An ungated metric without a ratio (baseline median not positive) falls back on the
    # difference, whose sign agrees with ratio - 1 wherever both exist.
    change = comparison.difference
    threshold = 0.0
    if rule is not None:
        threshold = rule.threshold
        if rule.kind == "relative" and comparison.ratio is not None:
            change = comparison.ratio - 1.0
    elif comparison.ratio is not None:
        change, threshold = comparison.ratio - 1.0, UNGATED_TOLERANCE
    significant = comparison.p_value < alpha
    tolerance = f"the {fmt_percent(threshold)} tolerance"

    if significant and change > threshold:
        status, why = REGRESSED, ""
    elif significant and change < -threshold:
        status, why = IMPROVED, ""
    elif significant:
        status, why = UNCHANGED, f" (within {'threshold' if rule is not None else tolerance})"
    else:
        status, why = UNCHANGED, " (not significant)"

    effect = _describe_effect(comparison, relative, METRICS[metric][1])
    comparator = "<" if significant else ">="
    limit = (f"threshold {rule.threshold_label}" if rule is not None
             else f"no rule, {tolerance}" if threshold else "no rule")
    tail = "" if rule is not None else " (not gated)"
    # two runs' rounds are two sessions' rounds: their test knows nothing of the drift between
    # sessions, so its p is labelled for what it is; the paired test of interleaved runs is not
    p_name = "paired p" if comparison.test == "wilcoxon" else "within-session p"
    explanation = (
        f"{metric} {effect}, {p_name}={_format_p(comparison.p_value)} {comparator} {alpha:g}, "
        f"{limit}: {status}{why}{tail}"
    )
    return Verdict(metric, key, status, explanation, rule, comparison)


def _describe_effect(comparison: Comparison, relative: bool, unit: str) -> str:
    """``+31.2% (95% CI +24.0..+38.1%)`` or ``+0.62 J (95% CI +0.41..+0.80 J)``."""
    level = f"{comparison.ci_level:.0%} CI"
    if relative and comparison.ratio is not None:
        text = _format_percent(comparison.ratio - 1.0)
        low, high = comparison.ratio_ci_low, comparison.ratio_ci_high
        if low is not None and high is not None:
            text += (
                f" ({level} {_format_percent(low - 1.0)[:-1]}..{_format_percent(high - 1.0)})"
            )
        return text
    text = fmt_quantity(comparison.difference, unit, sign=True)
    low, high = comparison.difference_ci_low, comparison.difference_ci_high
    if low is not None and high is not None:
        text += f" ({level} {fmt_range(low, high, unit, sign=True)})"
    return text


def _format_percent(fraction: float) -> str:
    return f"{fraction * 100:+.1f}%"


def _format_p(p: float) -> str:
    return f"{p:.2g}"
