"""The results store: round trips, exchange, resolution, concurrency and damaged files."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.measurement import Measurement
from greenbench.records import FORMAT_VERSION
from greenbench.results_format import CSV_COLUMNS, csv_rows, from_document, to_csv
from greenbench.store import SCHEMA_VERSION, STORE_ENV, Store, load_results, store_path
from tests.factories import DEFAULT_VALUES, make_case, make_run

REPO = Path(__file__).parents[1]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "results" / "greenbench.sqlite"


@pytest.fixture
def store(path: Path) -> Store:
    with Store(path) as s:
        yield s


def filled(path: Path, runs: int = 3, cases: int = 2) -> list[str]:
    """Store ``runs`` runs and close the store; return their ids, oldest first."""
    with Store(path) as s:
        return [s.begin_run(make_run(cases)) for _ in range(runs)]


# --------------------------------------------------------------------------- round trips


def test_get_run_returns_exactly_what_was_stored(store: Store) -> None:
    run = make_run(3, label="baseline", status="complete")
    run.footprint = {"operational_g": 1.25, "intensity_source": "test"}
    store.begin_run(run)
    assert store.get_run(run.id) == run


def test_a_multi_host_runs_job_survives_the_store_and_a_one_host_run_has_none(
        store: Store) -> None:
    job = {"world_size": 4, "hosts": [{"host_id": "a", "ranks": [0, 1]},
                                      {"host_id": "b", "ranks": [2, 3]}]}
    run = make_run(1, status="complete")
    run.job = job
    store.begin_run(run)
    one_host = make_run(1, status="complete")
    store.begin_run(one_host)
    assert store.get_run(run.id).job == job
    assert store.get_run(one_host.id).job is None


def test_cases_added_one_by_one_survive_an_unfinished_run(store: Store, path: Path) -> None:
    run = make_run(0, status="running")
    store.begin_run(run)
    for index in range(2):
        store.add_case(run.id, index, make_case(params={"batch": index}))
    # Another process (a second Store) sees both cases while the run is still "running".
    with Store(path) as other:
        seen = other.get_run(run.id)
    assert seen.status == "running"
    assert [c.params for c in seen.cases] == [{"batch": 0}, {"batch": 1}]
    store.finish_run(run.id, "interrupted", footprint={"operational_g": 0.5})
    final = store.get_run(run.id)
    assert (final.status, final.footprint) == ("interrupted", {"operational_g": 0.5})


def test_trace_is_stored_compressed_apart_from_the_case(store: Store, path: Path) -> None:
    run = make_run(1)
    store.begin_run(run)
    con = sqlite3.connect(path)
    record, blob = con.execute("SELECT record, trace FROM cases").fetchone()
    con.close()
    assert "trace" not in json.loads(record)
    assert json.loads(zlib.decompress(blob)) == run.cases[0].trace


def test_export_then_import_into_a_fresh_store_gives_the_same_document(
    store: Store, tmp_path: Path
) -> None:
    run = make_run(2, estimate=True, label="ünïcode label")
    store.begin_run(run)
    doc = json.loads(json.dumps(store.export_run(run.id)))  # through real JSON text
    assert doc["format_version"] == FORMAT_VERSION
    with Store(tmp_path / "fresh.sqlite") as fresh:
        assert fresh.import_run(doc) == run.id
        assert fresh.export_run(run.id) == doc
        assert fresh.get_run(run.id) == run


def test_importing_a_run_already_there_is_refused_or_skipped(store: Store) -> None:
    run = make_run(1)
    store.begin_run(run)
    doc = store.export_run(run.id)
    with pytest.raises(UserError, match="already in .*--skip-existing"):
        store.import_run(doc)
    assert store.import_run(doc, skip_existing=True) is None
    assert store.count_runs() == 1


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"run": {}}, "not a greenbench run export"),
        ({"format": "greenbench-run", "format_version": FORMAT_VERSION + 1, "run": {}},
         "newer greenbench"),
        ({"format": "greenbench-run", "format_version": 1, "run": {"id": "x"}},
         "missing created_utc"),
        ({"format": "greenbench-run", "format_version": 1, "run": [1, 2]}, "must be an object"),
    ],
)
def test_malformed_documents_are_refused_with_one_line(doc: dict, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        from_document(doc, "file.json")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- finding runs


def test_latest_and_latest_tilde_follow_creation_order(path: Path) -> None:
    ids = filled(path, runs=3)
    with Store(path) as s:
        assert s.resolve("latest") == ids[-1]
        assert s.resolve("latest~1") == ids[-2]
        assert s.resolve("latest~2") == ids[0]
        with pytest.raises(UserError, match="holds only 3 run"):
            s.resolve("latest~3")
        with pytest.raises(UserError, match="latest~N"):
            s.resolve("latest~x")


def test_prefix_and_random_tail_resolve_to_one_run(store: Store) -> None:
    a = store.begin_run(make_run(1, run_id="20250102-101010-aaa111"))
    store.begin_run(make_run(1, run_id="20250102-101010-bbb222"))
    assert store.resolve(a) == a
    assert store.resolve("20250102-101010-a") == a
    assert store.resolve("aaa111") == a
    with pytest.raises(UserError, match="ambiguous.*aaa111.*bbb222|ambiguous.*bbb222.*aaa111"):
        store.resolve("20250102")


def test_unknown_id_lists_the_latest_ids(path: Path) -> None:
    ids = filled(path, runs=7)
    with Store(path) as s, pytest.raises(UserError) as info:
        s.resolve("nope")
    message = str(info.value)
    assert "no run 'nope'" in message
    assert all(i in message for i in ids[-5:]) and ids[0] not in message


def test_latest_in_an_empty_store_says_so(store: Store) -> None:
    with pytest.raises(UserError, match="no runs in"):
        store.resolve("latest")


def test_list_runs_gives_light_summaries_newest_first(store: Store) -> None:
    old = store.begin_run(make_run(2))
    failed = make_run(2, estimate=True, label="est")
    failed.cases[1].status = "failed"
    new = store.begin_run(failed)
    runs = store.list_runs()
    assert [r.id for r in runs] == [new, old]
    assert (runs[0].cases, runs[0].cases_ok, runs[0].is_estimate, runs[0].label) == (
        2, 1, True, "est")
    assert runs[1].workloads == ["toy"] and runs[1].hostname == "host-machine-a"
    assert [r.id for r in store.list_runs(limit=1)] == [new]


def test_delete_run_removes_its_cases(store: Store, path: Path) -> None:
    run_id = store.begin_run(make_run(2))
    store.delete_run(run_id)
    assert store.count_runs() == 0
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 0
    con.close()


# --------------------------------------------------------------------------- concurrency

WRITER = """
import pathlib, sys, time
sys.path.insert(0, sys.argv[3])
from tests.factories import make_case, make_run
from greenbench.store import Store

path, tag, _, go = sys.argv[1:5]
while not pathlib.Path(go).exists():
    time.sleep(0.001)
with Store(path) as store:
    for i in range(50):
        run = make_run(0, run_id=f"{tag}-{i:03d}", status="running")
        store.begin_run(run)
        store.add_case(run.id, 0, make_case(params={"i": i}))
        store.finish_run(run.id, "complete")
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"  # both create it: the schema must be made once
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(REPO),
                               str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for tag in ("a", "b")]
    go.touch()  # release both at the same moment
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    with Store(path) as s:
        runs = s.list_runs()
    assert len(runs) == 100
    assert {r.status for r in runs} == {"complete"}
    assert all(r.cases == 1 for r in runs)


# --------------------------------------------------------------------------- damaged files


def test_schema_version_and_wal_mode_are_set(store: Store, path: Path) -> None:
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_a_newer_schema_is_refused_and_the_file_left_alone(path: Path) -> None:
    filled(path, runs=1)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = path.read_bytes()
    with pytest.raises(UserError) as info:
        Store(path)
    assert (f"written by a newer greenbench (schema {SCHEMA_VERSION + 1} > {SCHEMA_VERSION}): "
            "upgrade greenbench or use another --store") in str(info.value)
    assert path.read_bytes() == before


def test_random_bytes_are_reported_as_corrupt_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "random.sqlite"
    data = random.Random(7).randbytes(10_000)
    path.write_bytes(data)
    with pytest.raises(UserError, match="corrupt") as info:
        Store(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.sqlite"]


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.002])
def test_a_truncated_store_is_reported_as_corrupt_and_left_alone(
    path: Path, keep: float
) -> None:
    filled(path, runs=20, cases=3)
    data = path.read_bytes()[: int(path.stat().st_size * keep)]
    path.write_bytes(data)
    with pytest.raises(UserError, match="corrupt"):
        Store(path)
    assert path.read_bytes() == data


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(UserError, match="not a greenbench results store"):
        Store(path)
    assert path.read_bytes() == before


def test_a_foreign_sqlite_file_another_program_has_open_in_wal_mode_is_refused_unchanged(
        tmp_path: Path) -> None:
    """With a -wal beside it the file may be a store another greenbench is creating, so the
    writer decides under the write lock; a foreign one is still refused there, unchanged."""
    path = tmp_path / "other.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE notes (text TEXT)")
    other.execute("INSERT INTO notes VALUES ('mine')")
    assert path.with_name("other.sqlite-wal").exists()
    with pytest.raises(UserError, match="not a greenbench results store"):
        Store(path)
    assert other.execute("SELECT text FROM notes").fetchall() == [("mine",)]
    assert other.execute("PRAGMA application_id").fetchone()[0] == 0
    other.close()


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    with Store(path) as s:
        s.begin_run(make_run(1))
        assert s.count_runs() == 1


def test_a_path_that_cannot_be_created_names_the_path_and_the_remedy(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(UserError, match=r"cannot create results store .*a-file.*--store"):
        Store(blocker / "sub" / "greenbench.sqlite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(UserError, match="not writable"):
            Store(folder / "greenbench.sqlite")
    finally:
        folder.chmod(0o700)


def test_reading_a_missing_store_does_not_create_it(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no results store at"):
        Store(tmp_path / "nothing.sqlite", create=False)
    assert not (tmp_path / "nothing.sqlite").exists()


def test_store_path_prefers_option_then_environment_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert store_path() == tmp_path / "results" / "greenbench.sqlite"
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.sqlite"))
    assert store_path() == tmp_path / "env.sqlite"
    assert store_path("opt.sqlite") == Path("opt.sqlite")


# --------------------------------------------------------------------------- tables out


def test_load_results_has_one_row_per_case_with_params_and_medians(path: Path) -> None:
    filled(path, runs=2, cases=3)
    df = load_results(path)
    assert len(df) == 6
    for column in ("run_id", "created_utc", "machine", "workload", "batch", "status",
                   "energy_per_unit_j", "time_s", "power_w"):
        assert column in df.columns
    assert sorted(df["batch"].unique()) == [8, 16, 32]
    assert df["energy_per_unit_j"].iloc[0] == pytest.approx(0.0200)
    assert df["time_s"].iloc[0] == pytest.approx(0.1)


def test_load_results_without_pandas_gives_dicts(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(path, runs=1, cases=2)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    rows = load_results(path)
    assert isinstance(rows, list) and len(rows) == 2
    assert rows[1]["batch"] == 16 and rows[1]["energy_j"] == pytest.approx(2.0)


def test_a_parameter_named_like_a_column_is_prefixed(store: Store) -> None:
    store.begin_run(make_run(0))
    run_id = store.resolve("latest")
    store.add_case(run_id, 0, make_case(params={"status": "x"}))
    rows = load_results(store)
    assert rows["param_status"].tolist() == ["x"]
    assert rows["status"].tolist() == ["ok"]


def test_csv_has_one_row_per_case_and_metric_with_the_documented_columns() -> None:
    run = make_run(2, estimate=True)
    text = to_csv(run)
    header, *lines = text.splitlines()
    assert header.split(",") == list(CSV_COLUMNS)
    assert len(lines) == 2 * len(DEFAULT_VALUES)
    rows = {(r["case_index"], r["metric"]): r for r in csv_rows(run)}
    assert rows[(0, "energy_per_unit_j")]["estimate"] is True
    assert rows[(0, "energy_per_unit_j")]["method"] == "estimate"
    assert rows[(0, "time_s")]["estimate"] is False
    assert rows[(1, "time_s")]["median"] == pytest.approx(0.1)
    assert json.loads(rows[(1, "time_s")]["params"]) == {"batch": 16}


def test_list_runs_never_decodes_case_json(store: Store, path: Path) -> None:
    run_id = store.begin_run(make_run(2))
    con = sqlite3.connect(path)
    con.execute("UPDATE cases SET record = 'not json', trace = x'00'")
    con.commit()
    con.close()
    assert [(r.id, r.cases) for r in store.list_runs()] == [(run_id, 2)]


def domain(method: str, part_of: str | None = None) -> dict:
    return {"domain": "d", "energy_j": 1.0, "method": method, "source": "s",
            "mean_power_w": 1.0, "peak_power_w": 1.0, "samples": 1, "part_of": part_of}


@pytest.mark.parametrize(
    ("domains", "run_estimate", "expected"),
    [
        ([domain("counter"), domain("power")], True, False),  # "mixed" yet all measured
        ([domain("counter"), domain("estimate")], False, True),
        ([domain("counter"), domain("estimate", part_of="cpu-package:0")], False, False),
        ([], True, True),  # nothing recorded: the run's sensors decide
    ],
)
def test_a_case_is_an_estimate_when_a_top_level_domain_is(
    domains: list, run_estimate: bool, expected: bool
) -> None:
    from greenbench.results_format import case_is_estimate

    case = make_case()
    for r in case.repeats:
        r.measurement = Measurement.from_dict({"domains": domains})
    assert case_is_estimate(case, run_estimate) is expected
