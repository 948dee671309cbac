"""Hostile run documents: refused at import with the bad field's path, or, once accepted,
readable by every command. Documents are mutated at random (hypothesis) from a real export."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenbench import results_format
from greenbench.errors import UserError
from greenbench.results_format import from_document, to_document
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_run
from tests.plot_factories import sweep_run


def good_document() -> dict[str, Any]:
    """A run with what real ones hold: domains, GPUs, a trace, footprints, a failed case."""
    run = sweep_run(("softmax",), (256, 512), label="good")
    run.cases[1].status = "failed"
    run.cases[1].error = "boom"
    return to_document(run)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            found += paths(v, (*prefix, i))
    return found


def replaced(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


GOOD = good_document()
PATHS = paths(GOOD["run"])
hostile_text = st.lists(st.sampled_from(["a", "$", "/", "\x1b", "\u202e", "[b]", "..", "é"]),
                        max_size=4).map("".join)
leaves = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
          | st.floats(allow_nan=True, allow_infinity=True) | hostile_text)
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def read_commands() -> list[list[str]]:
    return [["results", "list"], ["results", "show", "latest", "--all-metrics"],
            ["results", "export", "latest", "--format", "csv"],
            ["compare", "latest", "latest"], ["results", "show", "latest", "--json"],
            ["report", "latest", "--no-figures", "-o", "report.md", "--latex", "table.tex"]]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_a_mutated_document_is_refused_in_one_line_or_read_by_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch, read_commands: list[list[str]], path: tuple[Any, ...],
    value: Any,
) -> None:
    doc = {**GOOD, "run": replaced(GOOD["run"], path, value)}
    try:
        from_document(doc, "doc.json")
    except UserError as exc:
        assert "\n" not in str(exc) and "doc.json" in str(exc)
        return
    store = tmp_path_factory.mktemp("s") / "s.sqlite"
    file = store.with_name("doc.json")
    file.write_text(json.dumps(doc))
    result = run_cli(capsys, "results", "import", str(file), "--store", str(store))
    assert result.code == 0, result.err
    monkeypatch.chdir(store.parent)
    for args in read_commands:
        result = run_cli(capsys, *args, "--store", str(store))
        assert "Traceback" not in result.err, (args, result.err)
        assert result.code in (0, 3), (args, result.err)


# --------------------------------------------------------------------------- known crashes


@pytest.mark.parametrize(("path", "value", "field"), [
    (("machine",), "a string", "run.machine"),
    (("machine",), [1, 2], "run.machine"),
    (("cases", 0, "workload"), None, "run.cases[0].workload"),
    (("config",), {"a": nested(50)}, "run.config"),
    (("id",), "../../etc/passwd", "run.id"),
    (("id",), "run\x1b[2J", "run.id"),
    (("status",), "exploded", "run.status"),
    (("cases", 0, "status"), "weird", "run.cases[0].status"),
    (("cases", 0, "repeats", 0, "metrics", "energy_j"), -2.0,
     "run.cases[0].repeats[0].metrics.energy_j"),
    (("cases", 0, "repeats", 0, "measurement", "energy_j"), -1,
     "run.cases[0].repeats[0].measurement.energy_j"),
    (("cases", 0, "summary", "energy_j", "median"), math.inf,
     "run.cases[0].summary.energy_j.median"),
    (("cases", 0, "summary", "energy_j", "n"), "5", "run.cases[0].summary.energy_j.n"),
    (("cases", 0, "summary", "energy_j", "ci_method"), None,
     "run.cases[0].summary.energy_j.ci_method"),
    (("cases", 0, "unit"), None, "run.cases[0].unit"),
    (("cases", 0, "params"), {"batch": {"x": 1}}, "run.cases[0].params.batch"),
    (("cases", 0, "flags"), "high CV", "run.cases[0].flags"),
    (("cases", 0, "trace", "power_w", "cpu-package:0"), [1.0],
     "run.cases[0].trace.power_w.cpu-package:0"),
    (("sensors",), {"kind": "counter"}, "run.sensors"),
    (("created_utc",), "yesterday", "run.created_utc"),
])
def test_a_malformed_field_is_refused_with_its_path(path: tuple[Any, ...], value: Any,
                                                    field: str) -> None:
    doc = {**GOOD, "run": replaced(GOOD["run"], path, value)}
    with pytest.raises(UserError) as info:
        from_document(doc, "doc.json")
    assert f"{field}:" in str(info.value) and "\n" not in str(info.value)


def test_a_document_nested_too_deep_for_json_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "deep.json"
    file.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(UserError, match="nested too deeply"):
        results_format.read_document_file(file)


# --------------------------------------------------------------------------- import as a whole


def export(tmp_path: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def stored_ids(path: Path) -> list[str]:
    with Store(path, readonly=True) as s:
        return [r.id for r in s.list_runs()]


def test_two_files_with_one_run_id_import_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    store = tmp_path / "s.sqlite"
    doc = to_document(make_run(1))
    other = to_document(make_run(1))
    a, b = export(tmp_path, "a.json", other), export(tmp_path, "b.json", doc)
    c = export(tmp_path, "c.json", doc)
    result = run_cli(capsys, "results", "import", a, b, c, "--store", str(store))
    assert result.code != 0 and "both hold run" in result.err
    assert not store.exists() or stored_ids(store) == []
    result = run_cli(capsys, "results", "import", a, b, c, "--skip-existing",
                     "--store", str(store))
    assert result.code == 0 and "skipped" in result.err
    assert sorted(stored_ids(store)) == sorted([doc["run"]["id"], other["run"]["id"]])


def test_a_refused_run_leaves_the_others_of_its_import_out_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    store = tmp_path / "s.sqlite"
    there = to_document(make_run(1))
    with Store(store) as s:
        s.import_run(there)
    new = export(tmp_path, "new.json", to_document(make_run(1)))
    old = export(tmp_path, "old.json", there)
    result = run_cli(capsys, "results", "import", new, old, "--store", str(store))
    assert result.code != 0 and "already in" in result.err
    assert stored_ids(store) == [there["run"]["id"]]


def test_a_file_beyond_the_size_cap_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(results_format, "MAX_DOCUMENT_BYTES", 1000)
    path = Path(export(tmp_path, "big.json", good_document()))
    with pytest.raises(UserError, match="more than a greenbench export holds"):
        results_format.read_document_file(path)


def test_a_trace_longer_than_the_meter_keeps_is_thinned_on_import() -> None:
    doc = good_document()
    n = 3 * results_format.MAX_TRACE_POINTS + 7
    trace = doc["run"]["cases"][0]["trace"]
    trace["t_s"] = [i * 0.01 for i in range(n)]
    trace["power_w"] = {d: [10.0] * n for d in trace["power_w"]}
    case = from_document(doc).cases[0]
    assert case.trace is not None
    assert len(case.trace["t_s"]) <= results_format.MAX_TRACE_POINTS + 1
    assert case.trace["t_s"][-1] == pytest.approx((n - 1) * 0.01)
    assert all(len(v) == len(case.trace["t_s"]) for v in case.trace["power_w"].values())
    assert any("thinned" in f and str(n) in f for f in case.flags)


# --------------------------------------------------------------------------- delete


def test_results_delete_removes_a_run_and_refuses_latest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    store = tmp_path / "s.sqlite"
    with Store(store) as s:
        keep, drop = s.begin_run(make_run(2)), s.begin_run(make_run(2))
    result = run_cli(capsys, "results", "delete", "latest", "--store", str(store))
    assert result.code != 0 and "by its id" in result.err
    result = run_cli(capsys, "results", "delete", drop, "--store", str(store))
    assert result.code == 0 and f"deleted run {drop} (2 case(s))" in result.err
    assert stored_ids(store) == [keep]
    result = run_cli(capsys, "results", "delete", drop, "--store", str(store))
    assert result.code != 0 and "no run" in result.err
