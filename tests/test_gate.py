"""Tests for greenbench.gate: rule parsing, verdicts and exit codes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from greenbench.errors import UserError
from greenbench.gate import (
    EXIT_ERROR,
    EXIT_NOTHING_COMPARABLE,
    EXIT_OK,
    EXIT_REGRESSED,
    IMPROVED,
    METRICS,
    NOT_COMPARABLE,
    REGRESSED,
    RULE_FORMS,
    UNCHANGED,
    Rule,
    RuleError,
    Verdict,
    evaluate,
    overall_exit_code,
    parse_rule,
    verdict_for,
)
from greenbench.stats import Comparison, compare

# --------------------------------------------------------------------------- parse_rule


def test_metrics_map_names_to_keys_and_units():
    assert METRICS == {
        "energy": ("energy_j", "J"),
        "energy_per_unit": ("energy_per_unit_j", "J"),
        "net_energy": ("net_energy_j", "J"),
        "net_energy_per_unit": ("net_energy_per_unit_j", "J"),
        "time": ("time_s", "s"),
        "power": ("power_w", "W"),
    }


@pytest.mark.parametrize(
    ("text", "metric", "key", "kind", "threshold"),
    [
        ("energy:5%", "energy", "energy_j", "relative", 0.05),
        ("energy_per_unit:10%", "energy_per_unit", "energy_per_unit_j", "relative", 0.10),
        ("net_energy:2.5%", "net_energy", "net_energy_j", "relative", 0.025),
        ("time:0%", "time", "time_s", "relative", 0.0),
        ("power:150%", "power", "power_w", "relative", 1.5),
        ("energy:0.5J", "energy", "energy_j", "absolute", 0.5),
        ("energy:250mJ", "energy", "energy_j", "absolute", 0.25),
        ("energy:2kJ", "energy", "energy_j", "absolute", 2000.0),
        ("energy:1Wh", "energy", "energy_j", "absolute", 3600.0),
        ("net_energy:0.1kWh", "net_energy", "net_energy_j", "absolute", 360_000.0),
        ("energy_per_unit:.5mJ", "energy_per_unit", "energy_per_unit_j", "absolute", 0.0005),
        ("time:2s", "time", "time_s", "absolute", 2.0),
        ("time:20ms", "time", "time_s", "absolute", 0.02),
        ("power:5W", "power", "power_w", "absolute", 5.0),
        ("power:500mW", "power", "power_w", "absolute", 0.5),
        ("energy:1e3J", "energy", "energy_j", "absolute", 1000.0),
        ("  energy : 0.5 J ", "energy", "energy_j", "absolute", 0.5),
        ("time:20 ms", "time", "time_s", "absolute", 0.02),
        ("Energy:5%", "energy", "energy_j", "relative", 0.05),
    ],
)
def test_parse_rule_accepts(text, metric, key, kind, threshold):
    rule = parse_rule(text)
    assert (rule.metric, rule.key, rule.kind) == (metric, key, kind)
    assert rule.threshold == pytest.approx(threshold)
    assert rule.text == text
    assert rule.unit == METRICS[metric][1]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("energy:five", None),
        ("", None),
        ("energy", "missing ':'"),
        ("energy 5%", "missing ':'"),
        ("energy:", None),
        (":5%", None),
        ("energy:5", "missing % or unit"),
        ("energy:5%%", None),
        ("energy::5%", None),
        ("energy:5%J", None),
        ("energy:5 J extra", None),
        ("energy:nan%", None),
        ("energy:inf J", None),
        ("mean:5%", "unknown metric 'mean'"),
        ("energy_j:5%", "unknown metric"),
        ("energy:-5%", "must not be negative"),
        ("time:-20ms", "must not be negative"),
        ("energy:5W", "unit 'W' does not fit energy"),
        ("time:5J", "unit 'J' does not fit time"),
        ("power:1Wh", "unit 'Wh' does not fit power"),
        ("energy:5MJ", "unit 'MJ' does not fit energy"),
        ("energy:5j", "unit 'j' does not fit energy"),
        ("energy:5 joules", "does not fit energy"),
    ],
)
def test_parse_rule_rejects_with_the_accepted_forms(text, problem):
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    message = str(caught.value)
    assert message.startswith(f"bad rule {text!r}")
    assert message.endswith(RULE_FORMS)
    assert "METRIC:N%" in message and "energy:0.5J" in message
    assert "\n" not in message
    if problem is not None:
        assert problem in message


def test_rule_error_is_a_value_error_and_a_user_error():
    with pytest.raises(ValueError):
        parse_rule("nope")
    with pytest.raises(UserError):
        parse_rule("nope")
    assert RuleError("x").exit_code == EXIT_ERROR


def test_threshold_label_is_what_the_user_wrote():
    assert parse_rule("time:20ms").threshold_label == "20ms"
    assert parse_rule("energy: 5 %").threshold_label == "5 %"
    handmade = Rule("energy", "energy_j", "relative", 0.05, "J", "energy at 5 percent")
    assert handmade.threshold_label == "5%"


# --------------------------------------------------------------------------- evaluate

# A real comparison (10 vs 10, exact Mann-Whitney) whose effect and p-value each test then sets,
# so that every branch is pinned by numbers visible in the test.
_BASE = compare([10.0 + i / 10 for i in range(10)], [10.0 + i / 10 for i in range(10)])


def comparison(
    ratio: float,
    p: float | None,
    *,
    ci: tuple[float, float] | None = None,
    difference: float | None = None,
    alpha: float = 0.05,
) -> Comparison:
    low, high = ci if ci is not None else (None, None)
    return dataclasses.replace(
        _BASE,
        ratio=ratio,
        ratio_ci_low=low,
        ratio_ci_high=high,
        difference=(ratio - 1.0) * 10.0 if difference is None else difference,
        difference_ci_low=None,
        difference_ci_high=None,
        p_value=p,
        alpha=alpha,
        significant=p is not None and p < alpha,
    )


def test_significant_and_above_threshold_is_a_regression():
    verdict = evaluate(
        parse_rule("energy_per_unit:5%"), comparison(1.312, 0.008, ci=(1.240, 1.381))
    )
    assert verdict.status == REGRESSED
    assert verdict.regressed and verdict.gated
    assert verdict.explanation == (
        "energy_per_unit +31.2% (95% CI +24.0..+38.1%), within-session p=0.008 < 0.05, "
        "threshold 5%: regressed"
    )


def test_significant_but_below_threshold_is_unchanged():
    verdict = evaluate(parse_rule("energy:5%"), comparison(1.03, 0.001))
    assert verdict.status == UNCHANGED
    assert "within threshold" in verdict.explanation
    assert not verdict.regressed


def test_above_threshold_but_not_significant_is_unchanged():
    verdict = evaluate(parse_rule("energy:5%"), comparison(1.40, 0.20))
    assert verdict.status == UNCHANGED
    assert "p=0.2 >= 0.05" in verdict.explanation
    assert "not significant" in verdict.explanation


def test_significant_improvement_beyond_threshold_is_improved():
    verdict = evaluate(parse_rule("energy:5%"), comparison(0.70, 0.0001, ci=(0.65, 0.76)))
    assert verdict.status == IMPROVED
    assert verdict.explanation.startswith("energy -30.0% (95% CI -35.0..-24.0%)")
    assert not verdict.regressed


def test_small_significant_improvement_is_unchanged_like_a_small_regression():
    assert evaluate(parse_rule("energy:5%"), comparison(0.98, 0.001)).status == UNCHANGED


def test_exactly_at_threshold_is_not_a_regression():
    rule = parse_rule("energy:0.5J")
    assert evaluate(rule, comparison(1.05, 0.001, difference=0.5)).status == UNCHANGED
    assert evaluate(rule, comparison(1.05, 0.001, difference=0.51)).status == REGRESSED


def test_absolute_rules_use_the_median_difference_in_si_units():
    rule = parse_rule("time:20ms")
    # +30% but only +15 ms: under the 20 ms allowance.
    assert evaluate(rule, comparison(1.30, 0.001, difference=0.015)).status == UNCHANGED
    verdict = evaluate(rule, comparison(1.01, 0.001, difference=0.025))
    assert verdict.status == REGRESSED
    assert verdict.explanation.startswith("time +25 ms, within-session p=0.001 < 0.05")
    assert "threshold 20ms: regressed" in verdict.explanation


def test_alpha_override_changes_significance():
    rule = parse_rule("energy:5%")
    c = comparison(1.30, 0.03)
    assert evaluate(rule, c).status == REGRESSED
    assert evaluate(rule, c, alpha=0.01).status == UNCHANGED


def test_missing_comparison_is_not_comparable():
    verdict = evaluate(parse_rule("energy:5%"), None)
    assert verdict.status == NOT_COMPARABLE
    assert verdict.reason is not None and "energy_j" in verdict.reason


def test_too_few_repeats_is_not_comparable_with_the_reason():
    verdict = evaluate(parse_rule("energy:5%"), compare([1.0, 1.1], [2.0, 2.1, 2.2]))
    assert verdict.status == NOT_COMPARABLE
    assert verdict.reason is not None and "too few values" in verdict.reason
    assert verdict.explanation.startswith("energy: not comparable: ")


def test_three_repeats_per_side_cannot_reach_alpha_so_not_comparable():
    verdict = evaluate(parse_rule("energy:5%"), compare([1.0, 1.1, 1.2], [9.0, 9.1, 9.2]))
    assert verdict.status == NOT_COMPARABLE
    assert verdict.reason is not None and "smallest possible p=0.1" in verdict.reason


def test_relative_rule_on_a_non_positive_baseline_is_not_comparable():
    c = compare([-1.0, 0.0, -0.5, 0.2], [1.0, 1.5, 2.0, 2.5])
    relative = evaluate(parse_rule("net_energy:5%"), c)
    assert relative.status == NOT_COMPARABLE
    assert relative.reason is not None and "absolute rule" in relative.reason
    assert evaluate(parse_rule("net_energy:0.5J"), c).status == REGRESSED


def test_real_comparison_end_to_end():
    rng = np.random.default_rng(11)
    baseline = list(rng.lognormal(0.0, 0.1, 10))
    current = list(1.3 * rng.lognormal(0.0, 0.1, 10))
    assert evaluate(parse_rule("energy:5%"), compare(baseline, current)).status == REGRESSED
    assert evaluate(parse_rule("energy:50%"), compare(baseline, current)).status == UNCHANGED
    assert evaluate(parse_rule("energy:5%"), compare(current, baseline)).status == IMPROVED


def test_gate_false_alarm_rate_on_unchanged_code_is_low():
    rng = np.random.default_rng(8)
    rule = parse_rule("energy:5%")
    alarms = sum(
        evaluate(rule, compare(list(rng.lognormal(0, 0.1, 10)), list(rng.lognormal(0, 0.1, 10))))
        .regressed
        for _ in range(100)
    )
    assert alarms <= 2


# --------------------------------------------------------------------------- verdict_for


def test_verdict_for_gives_rules_first_then_ungated_metrics():
    comparisons = {
        "energy_per_unit_j": comparison(1.31, 0.008),  # keyed by result key
        "time": comparison(0.80, 0.001),  # keyed by metric name
        "power_w": None,
        "accuracy": comparison(2.0, 0.001),  # unknown direction: skipped
    }
    rules = [parse_rule("energy_per_unit:5%"), parse_rule("net_energy:1J")]

    verdicts = verdict_for(comparisons, rules, alpha=0.05)

    assert [(v.metric, v.status, v.gated) for v in verdicts] == [
        ("energy_per_unit", REGRESSED, True),
        ("net_energy", NOT_COMPARABLE, True),
        ("time", IMPROVED, False),
        ("power", NOT_COMPARABLE, False),
    ]
    assert verdicts[2].explanation.endswith("no rule, the 1% tolerance: improved (not gated)")
    assert overall_exit_code(verdicts) == EXIT_REGRESSED


def test_ungated_regression_does_not_fail_the_gate():
    verdicts = verdict_for(
        {"energy": comparison(1.01, 0.5), "time": comparison(1.5, 0.001)},
        [parse_rule("energy:5%")],
    )
    assert [(v.metric, v.status) for v in verdicts] == [
        ("energy", UNCHANGED),
        ("time", REGRESSED),
    ]
    assert not verdicts[1].regressed
    assert overall_exit_code(verdicts) == EXIT_OK


def test_verdict_for_uses_its_alpha():
    verdicts = verdict_for({"energy": comparison(1.3, 0.03)}, [parse_rule("energy:5%")], 0.01)
    assert verdicts[0].status == UNCHANGED
    assert "p=0.03 >= 0.01" in verdicts[0].explanation


# --------------------------------------------------------------------------- exit codes


def _verdict(status, gated=True) -> Verdict:
    rule = parse_rule("energy:5%") if gated else None
    return Verdict("energy", "energy_j", status, status, rule, None)


def test_exit_code_constants():
    assert (EXIT_OK, EXIT_REGRESSED, EXIT_ERROR, EXIT_NOTHING_COMPARABLE) == (0, 1, 2, 3)


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([], EXIT_NOTHING_COMPARABLE),
        ([_verdict(UNCHANGED)], EXIT_OK),
        ([_verdict(IMPROVED), _verdict(UNCHANGED)], EXIT_OK),
        ([_verdict(UNCHANGED), _verdict(REGRESSED)], EXIT_REGRESSED),
        ([_verdict(REGRESSED), _verdict(NOT_COMPARABLE)], EXIT_REGRESSED),
        ([_verdict(NOT_COMPARABLE), _verdict(NOT_COMPARABLE)], EXIT_NOTHING_COMPARABLE),
        ([_verdict(NOT_COMPARABLE), _verdict(UNCHANGED)], EXIT_OK),
        # Rules exist but none could be evaluated: ungated data does not rescue the gate.
        ([_verdict(NOT_COMPARABLE), _verdict(UNCHANGED, gated=False)], EXIT_NOTHING_COMPARABLE),
        # No rules at all: any comparable metric is a result.
        ([_verdict(REGRESSED, gated=False)], EXIT_OK),
        ([_verdict(NOT_COMPARABLE, gated=False)], EXIT_NOTHING_COMPARABLE),
    ],
)
def test_overall_exit_code(verdicts, code):
    assert overall_exit_code(verdicts) == code
    assert overall_exit_code(iter(verdicts)) == code
