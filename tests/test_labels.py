"""Labels that agree with each other: the model card's source, the quick suite's description,
the notes' figures and the verdict words say one thing each, and say it the same way
everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from greenbench import gate
from greenbench.report import build_report
from greenbench.report.document import Code
from greenbench.report.sections import case_row
from greenbench.runner import CV_LIMIT, NEGATIVE_NET, summarize_case
from greenbench.store import Store
from greenbench.workload import discover
from tests.cli_runner import run_cli
from tests.factories import DEFAULT_VALUES, make_case, make_run
from tests.plot_factories import sweep_run
from tests.test_gate import comparison

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- model card


def _model_card_source(run: object) -> str:
    doc = build_report([run], figures=False)  # type: ignore[list-item]
    blocks = next(s.blocks for s in doc.sections if s.title.startswith("Reporting"))
    code = next(b for b in blocks if isinstance(b, Code))
    line = next(x for x in code.text.splitlines() if x.strip().startswith("source:"))
    return str(json.loads(line.split(": ", 1)[1]))


def test_model_card_source_of_a_measured_run_says_measured() -> None:
    source = _model_card_source(sweep_run())
    assert "measured energy" in source
    assert "estimat" not in source.lower()


def test_model_card_source_of_an_estimated_run_says_estimated_not_measured() -> None:
    run = sweep_run(gpu=False, cpu_estimate=True)
    for s in run.sensors:
        s.update(kind="estimate", source=f"estimate:{s['domain'].split(':')[0]}")
    source = _model_card_source(run)
    assert "estimated energy" in source
    assert "measured" not in source
    assert "estimate: estimate:" not in source  # the source names the model once


def test_model_card_source_of_a_partly_estimated_run_says_partly() -> None:
    source = _model_card_source(sweep_run(cpu_estimate=True))  # GPU counter, CPU model
    assert "energy partly estimated" in source
    assert "measured energy" not in source


# --------------------------------------------------------------------------- the quick suite


def _words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_the_quick_suite_names_the_workloads_it_runs_and_how_many_of_all() -> None:
    registry = discover()
    suite = registry.suite("quick")
    ran = list(dict.fromkeys(w for w, _ in suite.cases))
    assert len(ran) < len(registry.workloads)  # so "each built-in workload" would be wrong
    assert f"({len(ran)} of the {len(registry.workloads)} built-in workloads)" in suite.description
    assert all(w in suite.description for w in ran)
    assert "each built-in workload" not in suite.description


def test_readme_and_run_help_describe_and_time_the_quick_suite_alike(
        capsys: pytest.CaptureFixture[str]) -> None:
    description = discover().suite("quick").description
    what = description.split(": ", 1)[1]  # "one small case each of ... built-in workloads)"
    helptext = _words(run_cli(capsys, "run", "--help").out)
    readme = _words((ROOT / "README.md").read_text())
    row = re.search(r"\| quick \(the default\) \| ([^|]+) \| ([^|]+) \|", readme)
    assert row is not None
    assert what in helptext
    assert row.group(1).strip() == what
    time = re.compile(r"about \d+ (?:s|seconds|minutes?)\b")
    times = {row.group(2).strip(), *time.findall(helptext),
             *time.findall(readme.split("## Set up", 1)[1].split("```", 1)[0])}
    assert len(times) == 1, times


# --------------------------------------------------------------------------- notes and verdicts


@pytest.mark.parametrize("spread", [0.142, 0.145, 0.2])  # CV 10.04%, 10.25%, 14.1%
def test_a_high_cv_note_gives_a_figure_above_the_limit_it_names(spread: float) -> None:
    values = [1 - spread, 1.0, 1 + spread, 1 - spread / 2, 1 + spread / 2, 1.0]
    case = make_case(values={"energy_per_unit_j": values, "time_s": [0.1] * 6})
    case.summary.clear()
    case.flags.clear()
    summarize_case(case)
    note = next(f for f in case.flags if f.startswith("high CV"))
    found = re.fullmatch(r"high CV: energy_per_unit_j varies ([\d.]+)% over repeats "
                         r"\(limit (\d+)%\)", note)
    assert found is not None, note
    shown, limit = float(found.group(1)), float(found.group(2))
    assert limit == CV_LIMIT * 100
    assert shown > limit  # "10% (> 10%)" said one figure was above itself
    cv = case.summary["energy_per_unit_j"].cv
    assert abs(shown - cv * 100) <= 0.5  # the real figure, rounded


def test_a_significant_change_within_the_tolerance_is_unchanged_not_improved() -> None:
    verdicts = gate.verdict_for({"power": comparison(0.996, 0.001)}, [])
    assert [v.status for v in verdicts] == [gate.UNCHANGED]
    assert "unchanged (within the 1% tolerance)" in verdicts[0].explanation
    beyond = gate.verdict_for({"power": comparison(0.97, 0.001)}, [])
    assert [v.status for v in beyond] == [gate.IMPROVED]


# --------------------------------------------------------------------------- negative net energy

#: a busy machine: the idle baseline drew more than the repeats, so net comes out below zero
BELOW_IDLE = {**DEFAULT_VALUES, "net_energy_j": [-0.02, -0.01, -0.03, -0.02, -0.02],
              "net_energy_per_unit_j": [-2e-4, -1e-4, -3e-4, -2e-4, -2e-4]}


def test_the_runner_flags_a_net_energy_below_zero() -> None:
    case = make_case(values=BELOW_IDLE)
    case.summary.clear()
    case.flags.clear()
    summarize_case(case)
    notes = [f for f in case.flags if f.startswith(NEGATIVE_NET)]
    assert len(notes) == 1
    assert "(-20 mJ per step)" in notes[0] and "--idle" in notes[0]


def test_a_positive_net_energy_has_no_such_flag() -> None:
    case = make_case()
    case.flags.clear()
    summarize_case(case)
    assert not [f for f in case.flags if f.startswith(NEGATIVE_NET)]


def test_the_idle_baseline_note_is_not_said_twice() -> None:
    case = make_case(values=BELOW_IDLE)
    case.flags[:] = ["idle baseline (9 W) above the repeats' power (8 W): lengthen --idle"]
    summarize_case(case)
    assert not [f for f in case.flags if f.startswith(NEGATIVE_NET)]


def test_results_show_marks_a_negative_net_figure_and_says_why(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    run = make_run(1, BELOW_IDLE)
    summarize_case(run.cases[0])
    with Store(tmp_path / "s.sqlite") as store:
        store.begin_run(run)
    out = run_cli(capsys, "results", "show", "latest", "--store", str(tmp_path / "s.sqlite")).out
    assert "-200 µJ!" in out  # the net cell, marked
    assert f"note: 0: toy: {NEGATIVE_NET}" in " ".join(out.split())


def test_the_report_marks_a_negative_net_figure() -> None:
    run = make_run(1, BELOW_IDLE)
    net_cell = case_row(run, 0, run.cases[0])[5]
    assert net_cell.startswith("-200 µJ/sample") and "below zero" in net_cell
    assert "below zero" not in case_row(make_run(1), 0, make_run(1).cases[0])[5]


def test_a_high_cv_cell_shows_a_figure_above_the_limit(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    spread = 0.142  # CV 10.04%: "10%" beside a 10% limit would contradict its own flag
    values = {**DEFAULT_VALUES,
              "energy_per_unit_j": [0.02 * (1 + d) for d in (-spread, 0, spread, -spread / 2,
                                                             spread / 2, 0)]}
    run = make_run(1, values)
    with Store(tmp_path / "s.sqlite") as store:
        store.begin_run(run)
    out = run_cli(capsys, "results", "show", "latest", "--store", str(tmp_path / "s.sqlite")).out
    assert "10.04%" in out
    assert not re.search(r"(?<![\d.])10%", out), out
    assert case_row(run, 0, run.cases[0])[10] == "10.04% (high)"  # the report's CV cell
