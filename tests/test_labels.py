"""Labels that agree with each other: the model card's source, the quick suite's description,
the notes' figures and the verdict words say one thing each, and say it the same way
everywhere."""

from __future__ import annotations

import json
from pathlib import Path

from greenbench.report import build_report
from greenbench.report.document import Code
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
