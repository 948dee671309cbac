"""The plugin's baseline files, its settings and its summary pieces, without running pytest."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from greenbench.pytest_energy import storage
from greenbench.pytest_energy.fixture import budget_failures
from greenbench.pytest_energy.results import case_identity
from greenbench.pytest_energy.settings import Measuring, check_keywords
from greenbench.results_format import read_document_file
from tests.factories import make_run

KEY = "a" * 16


def saved_run(tmp_path: Path, *names: str) -> list[Path]:
    run = make_run(1)
    run.machine["key"] = KEY
    return [storage.save(tmp_path, run, name) for name in names]


def test_saves_are_numbered_exported_runs_in_the_machine_folder(tmp_path: Path) -> None:
    paths = saved_run(tmp_path, "main", "main", "feature/x y")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"{KEY}/0001_main.json", f"{KEY}/0002_main.json", f"{KEY}/0003_feature_x_y.json"]
    assert read_document_file(paths[0]).machine_key == KEY


def test_a_taken_number_is_never_overwritten(tmp_path: Path) -> None:
    (first,) = saved_run(tmp_path, "a")
    # another session created the next number in the meantime, under another name
    (first.parent / "0002_b.json").write_text("{}")
    (second,) = saved_run(tmp_path, "c")
    assert second.name == "0003_c.json" and (first.parent / "0002_b.json").read_text() == "{}"


@pytest.mark.parametrize(("ref", "expected"), [
    ("latest", "0003_main.json"), ("latest~1", "0002_exp.json"), ("1", "0001_main.json"),
    ("0002", "0002_exp.json"), ("main", "0003_main.json"), ("0001_main", "0001_main.json"),
])
def test_a_baseline_is_found_by_latest_number_or_name(tmp_path: Path, ref: str,
                                                      expected: str) -> None:
    saved_run(tmp_path, "main", "exp", "main")
    assert storage.resolve(tmp_path, KEY, ref).name == expected  # type: ignore[union-attr]


def test_a_file_path_is_taken_as_it_is(tmp_path: Path) -> None:
    (path,) = saved_run(tmp_path, "main")
    assert storage.resolve(tmp_path, "b" * 16, str(path)) == path
    assert storage.resolve(tmp_path, "b" * 16, path.relative_to(tmp_path).as_posix(),
                           rootdir=tmp_path) == tmp_path / path.relative_to(tmp_path)


def test_nothing_saved_yet_is_none_for_latest_and_an_error_for_a_name(tmp_path: Path) -> None:
    assert storage.resolve(tmp_path, KEY, "latest") is None
    with pytest.raises(storage.BaselineNotFound, match="nothing saved for this machine"):
        storage.resolve(tmp_path, KEY, "main")
    saved_run(tmp_path, "main")
    with pytest.raises(storage.BaselineNotFound, match="no such baseline .*saved: 0001_main"):
        storage.resolve(tmp_path, KEY, "other")
    with pytest.raises(storage.BaselineNotFound, match="only 1 baseline"):
        storage.resolve(tmp_path, KEY, "latest~1")


def test_other_machines_are_listed(tmp_path: Path) -> None:
    saved_run(tmp_path, "main")
    assert storage.other_machines(tmp_path, "b" * 16) == [KEY]
    assert storage.other_machines(tmp_path, KEY) == []


def test_autosave_names_carry_the_commit_and_utc_time() -> None:
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert storage.autosave_name("3f2a9c1d2e4b", when) == "3f2a9c1d2e4b_20250102T030405Z"
    assert storage.autosave_name(None, when) == "run_20250102T030405Z"


def test_a_test_is_a_case_named_by_its_node_id() -> None:
    assert case_identity("tests/t.py::test_a") == ("tests/t.py::test_a", {})
    assert case_identity("tests/t.py::C::test_a[big-2]") == ("tests/t.py::C::test_a",
                                                             {"id": "big-2"})


def test_keywords_are_checked_and_name_what_is_accepted() -> None:
    assert check_keywords({"rounds": 9, "max_energy_j": 2}, "m") == {"rounds": 9,
                                                                      "max_energy_j": 2.0}
    with pytest.raises(ValueError, match="unknown keyword 'max_energy'; accepted: rounds"):
        check_keywords({"max_energy": 1}, "m")
    with pytest.raises(ValueError, match="rounds=0: use at least 1"):
        check_keywords({"rounds": 0}, "m")
    with pytest.raises(ValueError, match="max_power_w=-1: use a positive number"):
        check_keywords({"max_power_w": -1}, "m")
    with pytest.raises(ValueError, match="unit=3: expected name of the unit"):
        check_keywords({"unit": 3}, "m")


def test_budgets_report_the_value_and_the_limit() -> None:
    m = Measuring().merged({"max_energy_j": 2.0, "max_power_w": 100.0, "units": 4,
                            "unit": "tokens", "max_energy_per_unit_j": 0.5})
    lines = budget_failures({"energy_j": 2.5, "power_w": 50.0, "energy_per_unit_j": 0.625},
                            m, estimate=True, basis="median of 7 rounds")
    assert lines == [
        "greenbench budget exceeded: energy 2.5 J per call > max_energy_j=2 J "
        "(median of 7 rounds, ESTIMATED)",
        "greenbench budget exceeded: energy 0.625 J per unit (tokens) > "
        "max_energy_per_unit_j=0.5 J (median of 7 rounds, ESTIMATED)",
    ]
    assert budget_failures({}, Measuring().merged({"max_energy_j": 1}), estimate=False,
                           basis="x") == ["greenbench budget not checked: no energy was "
                                          "measured (max_energy_j=1 J)"]
