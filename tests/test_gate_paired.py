"""The paired statistics of interleaved A/B gating, and why two sessions need them.

The drift model below is what the shared 2-core VM shows: every session (or stretch of time)
has its own speed factor, spread far more than the rounds inside it. Two sessions compared
round against round call that drift significant; rounds paired in time cancel it.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest

from greenbench import gate
from greenbench.paired import hodges_lehmann, paired_compare, signed_rank_p, walsh_interval
from greenbench.run_compare import PAIRED_TEST, WITHIN_SESSION, compare_runs
from greenbench.stats import compare
from tests.factories import make_run

RULE = gate.parse_rule("energy:10%")
ROUNDS = 10
TRIALS = 300


def _brute_force_p(diffs: list[float]) -> float:
    """Two-sided signed-rank p over every flip of the non-zero signs (Pratt), by enumeration."""
    from scipy.stats import rankdata

    ranks = rankdata([abs(d) for d in diffs])
    nonzero = [(r, d > 0) for r, d in zip(ranks, diffs, strict=True) if d != 0]
    total = sum(r for r, _ in nonzero)
    observed = sum(r for r, up in nonzero if up)
    extreme = 0
    flips = list(itertools.product((False, True), repeat=len(nonzero)))
    for signs in flips:
        s = sum(r for (r, _), up in zip(nonzero, signs, strict=True) if up)
        extreme += abs(s - total / 2) >= abs(observed - total / 2) - 1e-9
    return extreme / len(flips)


@pytest.mark.parametrize("diffs", [
    [0.1, 0.2, -0.05, 0.3, 0.15, 0.25, 0.12],
    [0.05, 0.05, -0.05, 0.0, 0.1, 0.05, 0.0, 0.1],  # ties and zeros: 10 ms CPU-time ticks
    [-0.2, -0.1, -0.3, -0.25, -0.15, -0.35],
])
def test_signed_rank_p_is_exact_with_ties_and_zeros(diffs: list[float]) -> None:
    p, min_p = signed_rank_p(diffs)
    assert p == pytest.approx(_brute_force_p(diffs))
    assert min_p == pytest.approx(2 / 2 ** sum(1 for d in diffs if d != 0))


def test_signed_rank_p_agrees_with_scipy_without_ties() -> None:
    from scipy.stats import wilcoxon

    rng = random.Random(3)
    for n in (6, 9, 14):
        diffs = [rng.gauss(0.05, 0.1) for _ in range(n)]
        assert signed_rank_p(diffs)[0] == pytest.approx(wilcoxon(diffs, method="exact").pvalue)


def test_hodges_lehmann_interval_brackets_the_estimate_and_needs_six_pairs() -> None:
    values = [0.18, 0.22, 0.19, 0.25, 0.17, 0.21, 0.2, 0.16]
    low, high = walsh_interval(values)  # type: ignore[misc]
    assert low < hodges_lehmann(values) < high
    assert walsh_interval(values[:5]) is None  # 1 - 2/32 < 95%: no interval exists


def test_too_few_pairs_is_not_comparable_rather_than_unchanged() -> None:
    base = [1.0, 1.01, 0.99, 1.0, 1.02]
    verdict = gate.evaluate(RULE, paired_compare(base, [x * 2 for x in base]))
    assert verdict.status == gate.NOT_COMPARABLE
    assert "Wilcoxon" in verdict.explanation and "add repeats" in verdict.explanation


def test_pairs_equal_to_the_tick_are_unchanged_not_too_few() -> None:
    """Six interleaved rounds whose CPU-time estimate came out equal in four pairs: the data
    shows no change, so the verdict is unchanged, not a call for more repeats."""
    base = [0.020, 0.020, 0.021, 0.020, 0.019, 0.020]
    head = [0.020, 0.020, 0.020, 0.020, 0.020, 0.020]
    comparison = paired_compare(base, head)
    assert comparison.min_p_value == pytest.approx(2 / 2 ** 6)
    assert signed_rank_p([math.log(h / b) for b, h in zip(base, head, strict=True)])[1] == 0.5
    assert "4 of 6 pairs are exactly equal" in (comparison.note or "")
    verdict = gate.evaluate(RULE, comparison)
    assert verdict.status == gate.UNCHANGED, verdict.explanation


def test_paired_ratio_estimates_a_real_change_with_an_interval() -> None:
    rng = random.Random(5)
    base = [rng.uniform(0.8, 1.2) for _ in range(ROUNDS)]
    head = [b * 1.2 * math.exp(rng.gauss(0, 0.02)) for b in base]
    c = paired_compare(base, head)
    assert c.ratio_ci_low < 1.2 < c.ratio_ci_high  # type: ignore[operator]
    assert c.ratio == pytest.approx(1.2, rel=0.03)
    assert c.p_value == pytest.approx(2 / 2**ROUNDS)  # every pair went up
    assert c.test == PAIRED_TEST


def _two_sessions(rng: random.Random, change: float) -> tuple[list[float], list[float]]:
    """Base and head each in a session of its own: a session factor, then 3% round noise."""
    def session(factor: float) -> list[float]:
        drift = math.exp(rng.gauss(0, 0.15))
        return [factor * drift * math.exp(rng.gauss(0, 0.03)) for _ in range(ROUNDS)]

    return session(1.0), session(change)


def _interleaved(rng: random.Random, change: float) -> tuple[list[float], list[float]]:
    """The same drift as a random walk through time, base and head a moment apart."""
    level, base, head = 0.0, [], []
    for _ in range(ROUNDS):
        level += rng.gauss(0, 0.1)
        base.append(math.exp(level + rng.gauss(0, 0.03)))
        head.append(change * math.exp(level + rng.gauss(0, 0.02) + rng.gauss(0, 0.03)))
    return base, head


def _alarms(make: object, change: float, paired: bool) -> int:
    rng = random.Random(11)
    count = 0
    for _ in range(TRIALS):
        base, head = make(rng, change)  # type: ignore[operator]
        c = paired_compare(base, head) if paired else compare(base, head)
        count += gate.evaluate(RULE, c).status != gate.UNCHANGED
    return count


def test_two_sessions_call_drift_a_change_and_interleaved_pairs_do_not() -> None:
    # the old way: one session's rounds against another's, as independent samples
    assert _alarms(_two_sessions, 1.0, paired=False) > TRIALS * 0.3
    # interleaved and paired: the drift cancels; no false alarm beyond the 10% threshold
    assert _alarms(_interleaved, 1.0, paired=True) <= TRIALS * 0.01


def test_interleaved_pairs_catch_a_twenty_percent_change_under_the_same_drift() -> None:
    assert _alarms(_interleaved, 1.2, paired=True) >= TRIALS * 0.95


def test_compare_runs_pairs_repeat_i_with_repeat_i() -> None:
    base_values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]  # a drift no unpaired test ignores
    base = make_run(values={"energy_j": base_values})
    head = make_run(values={"energy_j": [x * 1.25 for x in base_values]})
    paired = compare_runs(base, head, metrics=["energy_j"], rules=[RULE], test=PAIRED_TEST)
    unpaired = compare_runs(base, head, metrics=["energy_j"], rules=[RULE])
    assert paired.exit_code == gate.EXIT_REGRESSED
    assert paired.cases[0].verdicts[0].explanation.startswith("energy +25.0%")
    assert "paired p=0.0078 < 0.05" in paired.cases[0].verdicts[0].explanation
    assert unpaired.exit_code == gate.EXIT_OK  # the spread hides it between sessions


def test_an_unpaired_comparison_says_its_p_is_within_session_only() -> None:
    base = make_run(values={"energy_j": [1.0, 1.01, 0.99, 1.0, 1.02, 0.98]})
    head = make_run(values={"energy_j": [1.5, 1.51, 1.49, 1.5, 1.52, 1.48]})
    verdict = compare_runs(base, head, metrics=["energy_j"], rules=[RULE]).cases[0].verdicts[0]
    assert "within-session p=" in verdict.explanation
    assert verdict.comparison is not None and WITHIN_SESSION in (verdict.comparison.note or "")


def test_compare_cli_says_its_p_is_within_session_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from greenbench.results_format import dumps_document, to_document
    from tests.cli_runner import run_cli

    files = []
    for name, factor in (("a", 1.0), ("b", 1.5)):
        values = [factor * x for x in (1.0, 1.01, 0.99, 1.0, 1.02, 0.98)]
        run = make_run(values={"energy_j": values})
        path = tmp_path / f"{name}.json"
        path.write_text(dumps_document(to_document(run)))
        files.append(str(path))
    result = run_cli(capsys, "compare", *files, "--fail", "energy:10%")
    assert result.code == 1
    assert "within-session only" in " ".join(result.out.split())


def test_calibration_counts_false_alarms_and_sizes_the_detectable_change() -> None:
    from greenbench.ab.calibrate import calibration, smallest_detectable

    rng = random.Random(17)
    comparisons = []
    for _ in range(4):  # the same code against itself: 5% noise per pair of rounds
        base = [math.exp(rng.gauss(0, 0.2)) for _ in range(16)]
        head = [b * math.exp(rng.gauss(0, 0.05)) for b in base]
        comparisons.append(compare_runs(make_run(values={"energy_j": base}),
                                        make_run(values={"energy_j": head}),
                                        metrics=["energy_j"], rules=[RULE], test=PAIRED_TEST))
    result = calibration(comparisons)
    noise = result.benchmarks[0]
    assert result.failed_runs == 0 and noise.false_alarms == 0
    assert result.false_alarm_upper == pytest.approx(1 - 0.05 ** 0.25)
    assert noise.log_ratio_sd == pytest.approx(0.05, rel=0.25)
    assert noise.pairs == 16 and len(noise.ratios) == 4
    # 80% power at alpha 0.05 with 16 pairs of 5% noise: about 2.8 standard errors
    assert noise.detectable == pytest.approx(smallest_detectable(noise.log_ratio_sd, 16, 0.05))
    assert 0.03 < smallest_detectable(0.05, 16, 0.05) < 0.05


def _session_file(tmp_path: Path, name: str, factor: float) -> str:
    from greenbench.results_format import dumps_document, to_document

    values = [factor * x for x in (1.0, 1.01, 0.99, 1.0, 1.02, 0.98)]
    path = tmp_path / f"{name}.json"
    path.write_text(dumps_document(to_document(make_run(values={"energy_j": values}))))
    return str(path)


def test_several_baseline_sessions_keep_the_drift_between_sessions_from_being_called_a_change(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli_runner import run_cli

    # four sessions of the same code, each tight, drifting +-15% from one another
    base, *more = [_session_file(tmp_path, f"base{i}", f)
                   for i, f in enumerate((1.0, 1.15, 0.88, 1.1))]
    same = _session_file(tmp_path, "same", 1.18)  # one more session of that code
    twice = _session_file(tmp_path, "twice", 2.0)
    extra = [arg for path in more for arg in ("--baseline-session", path)]
    alone = run_cli(capsys, "compare", base, same, "--fail", "energy:10%", "--metric", "energy")
    assert alone.code == 1  # one baseline session: the drift reads as a regression
    held = run_cli(capsys, "compare", base, same, "--fail", "energy:10%", "--metric", "energy",
                   *extra, "--json")
    verdict = json.loads(held.out)["cases"][0]["verdicts"][0]
    assert held.code == 0 and verdict["status"] == "unchanged"
    assert "within the spread between sessions" in verdict["explanation"]
    assert "between 4 baseline sessions" in verdict["explanation"]
    caught = run_cli(capsys, "compare", base, twice, "--fail", "energy:10%", "--metric",
                     "energy", *extra)
    assert caught.code == 1
