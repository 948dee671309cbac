"""Stores written by earlier greenbench versions (SQLite schemas 1, 2 and 3, before the
migrations moved to Alembic) open, are upgraded by the migrations and keep every run; a store
of a newer schema is refused without a byte changed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.store import APPLICATION_ID, SCHEMA_VERSION, Store
from tests.factories import make_run

#: The schemas as released (greenbench.store's MIGRATIONS list before Alembic), frozen here:
#: step i took a store from version i to i + 1.
RELEASED_STEPS = [
    """
    CREATE TABLE runs (
        seq          INTEGER PRIMARY KEY,
        id           TEXT NOT NULL UNIQUE,
        created_utc  TEXT NOT NULL,
        status       TEXT NOT NULL,
        label        TEXT,
        hostname     TEXT,
        machine_key  TEXT NOT NULL,
        is_estimate  INTEGER NOT NULL,
        machine      TEXT NOT NULL,
        software     TEXT NOT NULL,
        config       TEXT NOT NULL,
        sensors      TEXT NOT NULL,
        footprint    TEXT
    );
    CREATE INDEX runs_by_time ON runs (created_utc, seq);
    CREATE TABLE cases (
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        idx       INTEGER NOT NULL,
        workload  TEXT NOT NULL,
        params    TEXT NOT NULL,
        status    TEXT NOT NULL,
        record    TEXT NOT NULL,
        trace     BLOB,
        PRIMARY KEY (run_id, idx)
    );
    """,
    "ALTER TABLE runs ADD COLUMN pid INTEGER; ALTER TABLE runs ADD COLUMN pid_started REAL;",
    "ALTER TABLE runs ADD COLUMN job TEXT;",
]


def old_store(path: Path, version: int, runs: int = 2, *, status: str = "complete") -> list:
    """A store as greenbench wrote it at schema ``version``, holding ``runs`` runs with two
    cases each (their traces compressed as it stored them)."""
    import zlib

    con = sqlite3.connect(path)
    for step in RELEASED_STEPS[:version]:
        con.executescript(step)
    made = []
    for _ in range(runs):
        run = make_run(2, status=status)
        made.append(run)
        con.execute(
            "INSERT INTO runs (id, created_utc, status, label, hostname, machine_key, "
            "is_estimate, machine, software, config, sensors, footprint) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.created_utc, run.status, run.label, run.machine.get("hostname"),
             run.machine_key, int(run.is_estimate), *(json.dumps(part) for part in (
                 run.machine, run.software, run.config, run.sensors)), None))
        for index, case in enumerate(run.cases):
            record = case.to_dict()
            trace = record.pop("trace")
            con.execute(
                "INSERT INTO cases (run_id, idx, workload, params, status, record, trace) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run.id, index, case.workload, json.dumps(case.params), case.status,
                 json.dumps(record),
                 None if trace is None else zlib.compress(json.dumps(trace).encode())))
    con.execute(f"PRAGMA user_version = {version}")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.commit()
    con.close()
    return made


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_store_of_an_older_schema_is_upgraded_keeping_every_run(
        tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.sqlite"
    made = old_store(path, version)
    with Store(path) as store:
        assert sorted(r.id for r in store.list_runs()) == sorted(r.id for r in made)
        for run in made:
            assert store.get_run(run.id).to_dict() == run.to_dict()
        store.begin_run(make_run(1))  # and it takes new runs, with the new columns
        assert store.count_runs() == len(made) + 1
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == \
        f"{SCHEMA_VERSION:04d}"
    columns = {r[1] for r in con.execute('PRAGMA table_info("runs")')}
    assert {"pid", "pid_started", "job", "content_hash", "extra"} <= columns
    con.close()


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_store_of_an_older_schema_reads_read_only_without_being_changed(
        tmp_path: Path, version: int) -> None:
    path = tmp_path / "old.sqlite"
    made = old_store(path, version)
    before = path.read_bytes()
    with Store(path, readonly=True) as store:
        assert store.get_run(made[0].id).to_dict() == made[0].to_dict()
        assert [r.cases for r in store.list_runs()] == [2, 2]
        assert store.stored_hash(made[0].id)  # computed: there is no column to read
    assert path.read_bytes() == before


def test_a_store_upgraded_from_schema_3_recognises_a_run_imported_again(
        tmp_path: Path) -> None:
    from greenbench.results_format import to_document

    path = tmp_path / "old.sqlite"
    (run,) = old_store(path, 3, runs=1)
    with Store(path) as store, pytest.raises(UserError, match="the same run, imported before"):
        store.import_run(to_document(run))


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, SCHEMA_VERSION + 7])
def test_a_store_of_a_newer_schema_is_refused_in_one_line_unchanged(
        tmp_path: Path, version: int) -> None:
    path = tmp_path / "new.sqlite"
    old_store(path, 3, runs=1)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    con.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(UserError) as info:
            Store(path, readonly=readonly)
        message = str(info.value)
        assert f"newer greenbench (schema {version} > {SCHEMA_VERSION})" in message
        assert "upgrade greenbench" in message and "\n" not in message
    assert path.read_bytes() == before
