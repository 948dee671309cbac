"""``greenbench results check``: the rules a run passes before it is pooled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from greenbench.records import RunRecord
from greenbench.results_format import dumps_document, to_document
from greenbench.store import Store
from greenbench.submission import RULES, check_run, evaluate, run_tier
from greenbench.submission.rules import MIN_REPEATS
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_VALUES, make_run, window

# Each repeat of the factories' cases is a 1 s window of 1000 units: a throughput of 1000/s
# is the one that comes from the same window as its energy.
SAME_WINDOW = {**DEFAULT_VALUES, "throughput_per_s": [1000.0] * 5}


def good_run(**kwargs: object) -> RunRecord:
    return make_run(2, SAME_WINDOW, **kwargs)  # type: ignore[arg-type]


def failed_rules(run: RunRecord) -> list[str]:
    return [f.rule for f in check_run(run)]


def test_a_complete_measured_run_with_enough_quiet_repeats_passes_every_rule() -> None:
    run = good_run()
    assert check_run(run) == []
    verdicts = {v.rule: v.status for v in evaluate(run)}
    assert verdicts == {r.name: "n/a" if r.name == "complete-hosts" else "pass" for r in RULES}
    assert run_tier(run) == "measured"


def test_every_rule_says_its_threshold_and_why() -> None:
    for rule in RULES:
        assert rule.threshold and len(rule.why) > 40, rule.name


def _running(run: RunRecord) -> None:
    run.status = "running"


def _failed_case(run: RunRecord) -> None:
    run.cases[1].status = "failed"


def _two_repeats(run: RunRecord) -> None:
    del run.cases[0].repeats[MIN_REPEATS - 1:]


def _short_repeats(run: RunRecord) -> None:
    for r in run.cases[1].repeats:
        r.measurement = window("repeat", 0.05, r.measurement.energy_j)
        r.metrics["throughput_per_s"] = r.units / 0.05


def _noisy(run: RunRecord) -> None:
    from greenbench.stats import summarize

    case = run.cases[0]
    for r, x in zip(case.repeats, [0.5, 1.5, 0.7, 1.3, 1.0], strict=True):
        r.metrics["time_s"] = 0.1 * x
    case.summary["time_s"] = summarize(case.values("time_s"))


def _no_idle(run: RunRecord) -> None:
    run.cases[0].idle = None


def _idle_not_read(run: RunRecord) -> None:
    run.cases[0].idle = window("idle", 1.0, None)


def _energy_not_read(run: RunRecord) -> None:
    r = run.cases[0].repeats[2]
    r.measurement = window("repeat 2", 1.0, None)


def _throughput_of_another_window(run: RunRecord) -> None:
    run.cases[1].repeats[3].metrics["throughput_per_s"] = 1100.0


def _summary_of_fewer_repeats(run: RunRecord) -> None:
    from greenbench.stats import summarize

    case = run.cases[0]
    case.summary["throughput_per_s"] = summarize(case.values("throughput_per_s")[:3])


def _partial_job(run: RunRecord) -> None:
    run.job = {"world_size": 4, "hosts": [{"host_id": "a", "ranks": [0, 1]}],
               "expected_hosts": ["a", "b"], "missing_hosts": ["b"], "missing_ranks": [2, 3]}


def _nan_in_summary(run: RunRecord) -> None:
    from dataclasses import replace

    s = run.cases[0].summary["energy_j"]
    run.cases[0].summary["energy_j"] = replace(s, median=float("nan"))


@pytest.mark.parametrize(("rule", "spoil"), [
    ("status", _running),
    ("status", _failed_case),
    ("repeats", _two_repeats),
    ("repeat-duration", _short_repeats),
    ("cv", _noisy),
    ("idle-baseline", _no_idle),
    ("idle-baseline", _idle_not_read),
    ("energy-method", _energy_not_read),
    ("same-repeats", _throughput_of_another_window),
    ("same-repeats", _summary_of_fewer_repeats),
    ("complete-hosts", _partial_job),
    ("format-version", _nan_in_summary),
], ids=lambda x: x if isinstance(x, str) else x.__name__.strip("_"))
def test_each_rule_fails_a_run_spoiled_its_way_and_names_the_case(
        rule: str, spoil: Callable[[RunRecord], None]) -> None:
    run = good_run()
    spoil(run)
    failures = check_run(run)
    assert rule in [f.rule for f in failures]
    line = str(next(f for f in failures if f.rule == rule))
    assert line.startswith(f"{rule}: ") and "\n" not in line
    if rule not in ("status", "complete-hosts", "format-version") or spoil is _failed_case:
        assert "toy[batch=" in line  # the case is named


def test_a_multi_host_run_with_every_host_passes_and_a_one_host_run_is_not_applicable() -> None:
    run = good_run()
    assert {v.rule: v.status for v in evaluate(run)}["complete-hosts"] == "n/a"
    run.job = {"world_size": 4, "hosts": [{"host_id": "a", "ranks": [0, 1]},
                                          {"host_id": "b", "ranks": [2, 3]}]}
    assert {v.rule: v.status for v in evaluate(run)}["complete-hosts"] == "pass"
    run.job["hosts"].pop()
    assert "complete-hosts" in failed_rules(run)


def test_a_run_with_a_model_in_its_total_is_in_the_estimated_tier_and_still_passes() -> None:
    run = good_run(estimate=True)
    assert check_run(run) == []
    assert run_tier(run) == "estimated"
    verdict = next(v for v in evaluate(run) if v.rule == "energy-method")
    assert "estimated" in verdict.detail


def test_a_skipped_case_does_not_fail_the_run() -> None:
    run = good_run()
    run.cases[1].status = "skipped"
    run.cases[1].repeats = []
    assert check_run(run) == []


# --------------------------------------------------------------------------- the command


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    good = good_run(label="good")
    bad = good_run(label="bad")  # the latest
    _short_repeats(bad)
    _no_idle(bad)
    with Store(path) as s:
        s.begin_run(good)
        s.begin_run(bad)
    return path


def test_check_names_each_failed_rule_on_one_line_and_exits_1(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "check", "latest", "--store", str(store_file))
    assert result.code == 1
    lines = result.out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["repeat-duration", "idle-baseline"]
    assert "fails 2 of" in lines[-1]
    assert "Traceback" not in result.err


def test_check_of_a_passing_run_prints_a_short_summary_and_exits_0(
        capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "check", "latest~1", "--store", str(store_file))
    assert result.code == 0, result.out
    assert result.out.count("\n") == 1
    assert f"passes {len(RULES) - 1} of {len(RULES)} rules" in result.out
    assert "tier measured" in result.out and "complete-hosts (one host)" in result.out


def test_check_json_gives_every_rule_its_verdict_and_threshold(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "check", "latest", "--json", "--store", str(store_file))
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["passed"] is False and doc["tier"] == "measured"
    assert [r["rule"] for r in doc["rules"]] == [r.name for r in RULES]
    assert {r["rule"] for r in doc["rules"] if r["status"] == "fail"} == {"repeat-duration",
                                                                         "idle-baseline"}
    assert all(r["threshold"] for r in doc["rules"])


def test_check_reads_an_exported_file(capsys, tmp_path: Path) -> None:
    exported = tmp_path / "run.json"
    exported.write_text(dumps_document(to_document(good_run())))
    result = run_cli(capsys, "results", "check", str(exported))
    assert result.code == 0, result.out


def test_check_of_an_unknown_run_is_one_line_without_a_traceback(
        capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "check", "nosuchrun", "--store", str(store_file))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_check_of_a_file_that_is_not_an_export_is_one_line_exit_2(
        capsys, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"name": "not a run"}')
    result = run_cli(capsys, "results", "check", str(other))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "not a greenbench run export" in result.err


def test_results_help_names_check(capsys) -> None:
    result = run_cli(capsys, "results", "--help")
    assert "check" in result.out and "Check that a run may be pooled" in result.out


def test_a_multi_host_run_missing_an_expected_host_fails_even_with_every_rank_listed() -> None:
    run = good_run()
    run.job = {"world_size": 2, "expected_hosts": ["a", "b"],
               "hosts": [{"host_id": "a", "ranks": [0, 1]}]}
    failure = next(f for f in check_run(run) if f.rule == "complete-hosts")
    assert "missing b" in str(failure)


def test_a_cv_just_above_the_limit_is_written_so_that_it_reads_above_it() -> None:
    from greenbench.stats import summarize

    run = good_run()
    case = run.cases[0]
    spread = 0.127  # CV 10.04%
    for r, x in zip(case.repeats, [1 - spread, 1.0, 1 + spread, 1 - spread / 2, 1 + spread / 2],
                    strict=True):
        r.metrics["time_s"] = 0.1 * x
    case.summary["time_s"] = summarize(case.values("time_s"))
    failure = next(f for f in check_run(run) if f.rule == "cv")
    assert "time_s 10." in str(failure) and "time_s 10%" not in str(failure)
