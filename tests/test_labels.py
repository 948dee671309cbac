"""Labels that agree with each other: the model card's source, the quick suite's description,
the notes' figures and the verdict words say one thing each, and say it the same way
everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from greenbench.report import build_report
from greenbench.report.document import Code
from greenbench.workload import discover
from tests.cli_runner import run_cli
from tests.plot_factories import sweep_run

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
