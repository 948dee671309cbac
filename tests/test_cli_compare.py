"""``greenbench compare``: verdicts per case and the exit codes a CI job relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.records import RunRecord
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_VALUES, make_run, scaled

RULE = "energy_per_unit:5%"


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def stored(tmp_path: Path, *runs: RunRecord) -> str:
    """A store holding ``runs`` (the last one is ``latest``); its path."""
    path = tmp_path / "store.sqlite"
    with Store(path) as s:
        for run in runs:
            s.begin_run(run)
    return str(path)


def compare(capsys, store: str, *args: str):
    return run_cli(capsys, "compare", "latest~1", "latest", "--store", store, *args)


def test_a_30_percent_regression_fails_the_gate(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(2), make_run(2, scaled(DEFAULT_VALUES, 1.3)))
    result = compare(capsys, store, "--fail", RULE)
    assert result.code == 1
    assert "regressed [energy_per_unit:5%]" in result.out
    assert "1.300" in result.out  # the ratio
    assert "toy[batch=8]" in result.out and "toy[batch=16]" in result.out


def test_the_same_regression_without_a_rule_only_reports(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(1, scaled(DEFAULT_VALUES, 1.3)))
    result = compare(capsys, store)
    assert result.code == 0
    assert "regressed" in result.out


def test_identical_runs_pass(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(2), make_run(2))
    result = compare(capsys, store, "--fail", RULE, "--fail", "time:10%")
    assert result.code == 0
    assert "unchanged" in result.out and "regressed" not in result.out


def test_an_improvement_passes_and_says_so(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(1, scaled(DEFAULT_VALUES, 0.7)))
    result = compare(capsys, store, "--fail", RULE, "--json")
    assert result.code == 0
    verdicts = json.loads(result.out)["cases"][0]["verdicts"]
    assert verdicts[0]["status"] == "improved" and verdicts[0]["gated"] is True


def test_different_machines_are_not_comparable_unless_allowed(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(2, machine_key="a"), make_run(2, machine_key="b"))
    result = compare(capsys, store, "--fail", RULE)
    assert result.code == 3
    assert result.out.count("not comparable: different machines") == 2  # said per case
    assert "--allow-cross-machine" in result.out
    allowed = compare(capsys, store, "--fail", RULE, "--allow-cross-machine")
    assert allowed.code == 0


def test_estimated_against_measured_energy_is_not_comparable_unless_allowed(
    capsys, tmp_path: Path
) -> None:
    store = stored(tmp_path, make_run(1), make_run(1, estimate=True))
    result = compare(capsys, store, "--fail", RULE, "--json")
    assert result.code == 3
    verdicts = {v["key"]: v for v in json.loads(result.out)["cases"][0]["verdicts"]}
    assert verdicts["energy_per_unit_j"]["status"] == "not comparable"
    assert "--allow-estimates" in verdicts["energy_per_unit_j"]["reason"]
    assert verdicts["time_s"]["status"] == "unchanged"  # time comes from the clock anyway
    assert compare(capsys, store, "--fail", RULE, "--allow-estimates").code == 0


def test_three_repeats_cannot_show_significance(capsys, tmp_path: Path) -> None:
    few = {k: v[:3] for k, v in DEFAULT_VALUES.items()}
    store = stored(tmp_path, make_run(1, few), make_run(1, scaled(few, 1.3)))
    result = compare(capsys, store, "--fail", RULE)
    assert result.code == 3
    assert "add repeats" in result.out


@pytest.mark.parametrize("rule", ["energy_per_unit5", "energy:five%", "speed:5%", "time:5J"])
def test_a_malformed_rule_exits_2_naming_the_accepted_forms(
    capsys, tmp_path: Path, rule: str
) -> None:
    store = stored(tmp_path, make_run(1), make_run(1))
    result = compare(capsys, store, "--fail", rule)
    assert result.code == 2
    assert "METRIC:N%" in result.err and result.err.count("\n") == 1
    assert result.out == ""


def test_an_unknown_run_exits_2(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1))
    result = run_cli(capsys, "compare", "latest", "nope", "--store", store)
    assert result.code == 2 and "no run 'nope'" in result.err


def test_an_unknown_metric_exits_2(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(1))
    result = compare(capsys, store, "--metric", "speed")
    assert result.code == 2 and "energy_per_unit" in result.err


def test_an_exported_file_works_as_the_baseline(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(1, scaled(DEFAULT_VALUES, 1.3)))
    baseline = tmp_path / "baseline.json"
    run_cli(capsys, "results", "export", "latest~1", "-o", str(baseline), "--store", store)
    result = run_cli(capsys, "compare", str(baseline), "latest", "--store", store,
                     "--fail", RULE)
    assert result.code == 1


def test_json_names_the_test_and_gives_p_values(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(1, scaled(DEFAULT_VALUES, 1.3)))
    doc = json.loads(compare(capsys, store, "--fail", RULE, "--json").out)
    assert doc["test"] == "mann-whitney" and doc["exit_code"] == 1
    assert doc["metrics"] == ["energy_per_unit_j", "energy_j", "time_s", "power_w"]
    epu = doc["cases"][0]["verdicts"][0]
    assert epu["regressed"] is True
    assert epu["comparison"]["ratio"] == pytest.approx(1.3)
    assert epu["comparison"]["p_value"] < 0.05


def test_welch_can_be_chosen(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(1, scaled(DEFAULT_VALUES, 1.3)))
    doc = json.loads(compare(capsys, store, "--fail", RULE, "--test", "welch", "--json").out)
    assert doc["test"] == "welch" and doc["exit_code"] == 1


def test_cases_present_on_one_side_only_are_listed(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1), make_run(2))
    result = compare(capsys, store)
    assert "only in the current run (not compared): toy[batch=16]" in result.out


def test_nothing_in_common_exits_3(capsys, tmp_path: Path) -> None:
    store = stored(tmp_path, make_run(1, workload="a"), make_run(1, workload="b"))
    assert compare(capsys, store, "--fail", RULE).code == 3
