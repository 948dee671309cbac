"""Records: case names that tell cases apart, and typed records that read every version-1
document and survive the worker boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.measurement import Measurement
from greenbench.records import CaseRecord, Warmup, case_names
from greenbench.results_format import from_document, to_document
from greenbench.stats import Summary


def case(workload: str, **params: object) -> CaseRecord:
    return CaseRecord(workload, dict(params), "ok")


def test_names_show_only_what_varies_within_each_workload() -> None:
    cases = [
        case("attention", mechanism="softmax", seq_len=256, d_model=256),
        case("attention", mechanism="sdpa", seq_len=256, d_model=256),
        case("sparse-matmul", density=0.1, execution="sparse"),
        case("transformer", size="tiny", k=None),
    ]
    assert case_names(cases) == [
        "attention[mechanism=softmax]", "attention[mechanism=sdpa]", "sparse-matmul",
        "transformer"]


def test_a_parameter_missing_from_some_cases_is_not_shown_as_none() -> None:
    cases = [case("w", a=1), case("w", a=2, b=3)]
    assert case_names(cases) == ["w[a=1]", "w[a=2, b=3]"]


# --------------------------------------------------------------------------- version 1 documents

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["v1_run.json", "v1_plugin.json"])
def test_a_version_1_export_reads_into_typed_records_with_its_stored_figures(name: str) -> None:
    """Exports written before the records were typed (a `greenbench run` and a pytest-plugin
    baseline of the previous release) read into Measurement, Warmup and Summary objects whose
    figures are the stored ones, and write back to a document that reads the same."""
    doc = json.loads((DATA / name).read_text())
    run = from_document(doc, name)
    for stored, case in zip(doc["run"]["cases"], run.cases, strict=True):
        for raw, repeat in zip(stored["repeats"], case.repeats, strict=True):
            m = repeat.measurement
            assert isinstance(m, Measurement)
            assert m.energy_j == pytest.approx(raw["measurement"]["energy_j"])
            assert m.duration_s == pytest.approx(raw["measurement"]["duration_s"])
            assert (m.method, m.is_estimate) == (raw["measurement"]["method"],
                                                 raw["measurement"]["estimate"])
        assert isinstance(case.idle, Measurement)
        assert case.idle.mean_power_w == pytest.approx(stored["idle"]["mean_power_w"])
        assert isinstance(case.warmup, Warmup)
        raw_warmup = stored["warmup"]
        assert case.warmup.step_s == raw_warmup.get("step_s", raw_warmup.get("call_s"))
        assert case.warmup.steps_per_repeat == raw_warmup.get(
            "steps_per_repeat", raw_warmup.get("iterations"))
        assert (case.warmup_window is None) == ("domains" not in raw_warmup)
        for metric, raw_summary in stored["summary"].items():
            assert isinstance(case.summary[metric], Summary)
            assert case.summary[metric].to_dict() == raw_summary
    again = from_document(json.loads(json.dumps(to_document(run))), "again")
    assert again == run


def test_a_case_crosses_the_worker_boundary_typed(tmp_path: Path) -> None:
    """What the worker sends (its JSON line) reads back into equal typed records."""
    from tests.factories import make_case

    case = make_case()
    line = json.dumps({"event": "result", "case": case.to_dict()})
    back = CaseRecord.from_dict(json.loads(line)["case"])
    assert back == case
    assert isinstance(back.repeats[0].measurement, Measurement)
    assert isinstance(back.summary["energy_j"], Summary)
