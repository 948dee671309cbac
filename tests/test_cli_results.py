"""``greenbench results list | show | export | import`` from the user's side."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from greenbench.results_format import CSV_COLUMNS
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_run


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich would otherwise wrap and cut table cells


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    """A store with a measured run, then an estimated one (the latest)."""
    path = tmp_path / "store.sqlite"
    with Store(path) as s:
        s.begin_run(make_run(2, label="measured run"))
        s.begin_run(make_run(1, estimate=True, label="estimated run"))
    return path


def ids(path: Path) -> list[str]:
    """Run ids, newest first."""
    with Store(path) as s:
        return [r.id for r in s.list_runs()]


def test_list_shows_every_run_newest_first(capsys, store_file: Path) -> None:
    newest, oldest = ids(store_file)
    result = run_cli(capsys, "results", "list", "--store", str(store_file))
    assert result.code == 0
    assert result.out.index(newest) < result.out.index(oldest)
    assert "ESTIMATE" in result.out and "measured run" in result.out


def test_list_json_and_limit(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "list", "--json", "--limit", "1", "--store",
                     str(store_file))
    rows = json.loads(result.out)
    assert [r["label"] for r in rows] == ["estimated run"]
    assert rows[0]["is_estimate"] is True and rows[0]["cases"] == 1


def test_store_comes_from_the_environment(capsys, store_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("GREENBENCH_STORE", str(store_file))
    result = run_cli(capsys, "results", "list", "--json")
    assert len(json.loads(result.out)) == 2


def test_show_latest_marks_estimated_energy(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "show", "latest", "--store", str(store_file))
    assert result.code == 0
    assert ids(store_file)[0] in result.out
    assert "cpu-package:0 (cpu-tdp, ESTIMATE)" in result.out
    assert "energy ESTIMATED (no sensor)" in result.out  # the table says what its figures are
    assert "20 mJ" in result.out  # energy per unit


def test_show_measured_run_has_no_estimate_marks(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "show", "latest~1", "--store", str(store_file))
    assert result.code == 0
    assert "ESTIMATE" not in result.out
    assert "1 k samples/s" in result.out and "1%" in result.out
    assert "toy[batch=8]" in result.out  # brackets in labels are not eaten as markup


def test_show_json_has_case_summaries(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "show", "latest~1", "--json", "--store", str(store_file))
    doc = json.loads(result.out)
    assert doc["run"]["label"] == "measured run" and doc["estimate"] is False
    assert [c["params"] for c in doc["cases"]] == [{"batch": 8}, {"batch": 16}]
    assert doc["cases"][0]["summary"]["time_s"]["median"] == pytest.approx(0.1)


def test_export_json_to_stdout_is_the_store_document(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "export", "latest", "--store", str(store_file))
    with Store(store_file) as s:
        assert json.loads(result.out) == s.export_run(s.resolve("latest"))


def test_export_csv_to_a_file(capsys, store_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.csv"
    result = run_cli(capsys, "results", "export", "latest~1", "-o", str(out), "--store",
                     str(store_file))
    assert result.code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert {r["case_index"] for r in rows} == {"0", "1"}


def test_export_then_import_elsewhere_then_import_again(
    capsys, store_file: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "run.json"
    run_cli(capsys, "results", "export", "latest", "-o", str(exported), "--store",
            str(store_file))
    other = tmp_path / "new" / "other.sqlite"
    first = run_cli(capsys, "results", "import", str(exported), "--store", str(other))
    assert first.code == 0 and "imported run" in first.err
    again = run_cli(capsys, "results", "import", str(exported), "--store", str(other))
    assert again.code != 0
    assert again.err.count("\n") == 1 and "already in" in again.err
    skipped = run_cli(capsys, "results", "import", str(exported), "--skip-existing", "--store",
                      str(other))
    assert skipped.code == 0 and "skipped run" in skipped.err
    reexported = run_cli(capsys, "results", "export", "latest", "--store", str(other))
    assert json.loads(reexported.out) == json.loads(exported.read_text())


def test_show_accepts_an_exported_file(capsys, store_file: Path, tmp_path: Path) -> None:
    exported = tmp_path / "run.json"
    run_cli(capsys, "results", "export", "latest", "-o", str(exported), "--store",
            str(store_file))
    result = run_cli(capsys, "results", "show", str(exported))
    assert result.code == 0 and "estimated run" in result.out


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"a": 1}', "not a greenbench run export")],
)
def test_importing_a_malformed_file_is_one_line(
    capsys, tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = run_cli(capsys, "results", "import", str(bad), "--store",
                     str(tmp_path / "s.sqlite"))
    assert result.code != 0
    assert message in result.err and result.err.count("\n") == 1


def test_unknown_run_lists_the_latest_ids(capsys, store_file: Path) -> None:
    result = run_cli(capsys, "results", "show", "zzz", "--store", str(store_file))
    assert result.code != 0
    assert result.err.startswith("greenbench: error: no run 'zzz'")
    assert all(i in result.err for i in ids(store_file))


def test_a_corrupt_store_is_one_line_and_left_untouched(capsys, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.sqlite"
    data = b"SQLite format 3\x00" + bytes(range(256)) * 40
    path.write_bytes(data)
    result = run_cli(capsys, "results", "list", "--store", str(path))
    assert result.code != 0
    assert result.err.count("\n") == 1 and "corrupt" in result.err
    assert "Traceback" not in result.err + result.out
    assert path.read_bytes() == data


def test_a_missing_store_is_not_created_by_list(capsys, tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    result = run_cli(capsys, "results", "list", "--store", str(path))
    assert result.code != 0 and "no results store at" in result.err
    assert not path.exists()


def test_export_to_an_unwritable_path_is_one_line(
    capsys, store_file: Path, tmp_path: Path
) -> None:
    result = run_cli(capsys, "results", "export", "latest", "-o",
                     str(tmp_path / "missing-dir" / "x.json"), "--store", str(store_file))
    assert result.code != 0 and "cannot write" in result.err
    assert result.err.count("\n") == 1


def test_show_lists_carbon_per_case_when_recorded(capsys, tmp_path: Path) -> None:
    run = make_run(2, label="with carbon")
    run.cases[0].footprint = {"energy_kwh": 1e-5, "operational_g": 0.0042, "embodied_g": None,
                              "sci_g_per_unit": 2.5e-6, "unit": "samples"}
    path = tmp_path / "store.sqlite"
    with Store(path) as s:
        s.begin_run(run)
    result = run_cli(capsys, "results", "show", "latest", "--store", str(path))
    assert result.code == 0
    assert "carbon per case" in result.out
    assert "4.2 mgCO2e" in result.out and "2.5 µgCO2e/sample" in result.out
    assert "not counted" in result.out  # no embodied figure is not shown as 0
