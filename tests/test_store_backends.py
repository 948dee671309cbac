"""The store's interface, the same tests on both backends: an SQLite file and a real
PostgreSQL server the session starts (tests/postgres_server.py; skipped, with the reason,
where there are no PostgreSQL binaries)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.results_format import to_document
from greenbench.run_owner import DIED
from greenbench.store import SCHEMA_VERSION, Store, load_results
from tests.factories import make_case, make_run
from tests.postgres_server import PASSWORD, Server, postgres_server, postgres_url  # noqa: F401

REPO = Path(__file__).parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh store goes: a file path, or the URL of an empty database."""
    if request.param == "sqlite":
        yield str(tmp_path / "s.sqlite")
        return
    yield request.getfixturevalue("postgres_url")


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    with Store(location) as s:
        yield s


# --------------------------------------------------------------------------- round trips


def test_a_run_comes_back_exactly_as_stored(store: Store) -> None:
    run = make_run(3, label="kept")
    run.job = {"world_size": 2, "hosts": ["a", "b"]}
    store.begin_run(run)
    assert store.get_run(run.id).to_dict() == run.to_dict()
    assert to_document(store.get_run(run.id)) == to_document(run)


def test_parameters_and_documents_keep_their_order(store: Store) -> None:
    run = make_run(0)
    case = make_case(params={"z_last": 1, "a_first": 2, "m": 3})
    run.cases = [case]
    run.machine = {"z": 1, "a": 2, **run.machine}
    store.begin_run(run)
    back = store.get_run(run.id)
    assert list(back.cases[0].params) == ["z_last", "a_first", "m"]
    assert list(back.machine) == list(run.machine)


def test_a_run_field_without_a_column_of_its_own_is_kept_whole(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from greenbench.store import rows, schema

    # as a field added to RunRecord after schema 4 would be: no column, so into runs.extra
    monkeypatch.setattr(rows, "RUN_COLUMNS", tuple(c for c in schema.RUN_COLUMNS if c != "job"))
    run = make_run(1)
    run.job = {"world_size": 3, "hosts": ["a", "b", "c"]}
    store.begin_run(run)
    assert store.get_run(run.id).job == run.job
    import sqlalchemy as sa

    job, extra = store._read(lambda con: con.execute(
        sa.select(schema.runs.c.job, schema.runs.c.extra)).one())
    assert job is None and extra == {"job": run.job}
    monkeypatch.undo()  # read by a greenbench that has a column for it: the same run
    assert store.get_run(run.id).to_dict() == run.to_dict()


def test_a_runs_cases_stored_one_by_one_survive_an_unfinished_run(store: Store) -> None:
    run = make_run(0, status="running")
    store.begin_run(run)
    store.add_case(run.id, 0, make_case(params={"i": 0}))
    store.add_case(run.id, 1, make_case(params={"i": 1}))
    assert store.get_run(run.id).status == "running"  # this process lives
    assert [c.params for c in store.get_run(run.id).cases] == [{"i": 0}, {"i": 1}]
    store.finish_run(run.id, "complete", footprint={"kg_co2e": 0.5})
    stored = store.get_run(run.id)
    assert stored.status == "complete" and stored.footprint == {"kg_co2e": 0.5}


def test_latest_prefix_and_tail_resolve_and_an_unknown_id_lists_the_latest(
        store: Store) -> None:
    ids = [store.begin_run(make_run(1, created_utc=f"2025-01-0{i}T00:00:00+00:00"))
           for i in range(1, 4)]
    assert store.resolve("latest") == ids[-1]
    assert store.resolve("latest~2") == ids[0]
    assert store.resolve(ids[1][:-1]) == ids[1]
    assert store.resolve(ids[1].rsplit("-", 1)[1]) == ids[1]
    with pytest.raises(UserError, match="latest: " + ids[-1]):
        store.resolve("no-such-run")
    with pytest.raises(UserError, match="holds only 3"):
        store.resolve("latest~5")


def test_list_summaries_count_cases_and_workloads_newest_first(store: Store) -> None:
    first = make_run(2, created_utc="2025-01-01T00:00:00+00:00")
    first.cases[1].status = "failed"
    second = make_run(1, created_utc="2025-01-02T00:00:00+00:00", workload="other")
    for run in (first, second):
        store.begin_run(run)
    summaries = store.list_runs()
    assert [(s.id, s.cases, s.cases_ok, s.workloads) for s in summaries] == [
        (second.id, 1, 1, ["other"]), (first.id, 2, 1, ["toy"])]
    assert [s.id for s in store.list_runs(limit=1)] == [second.id]
    assert store.count_runs() == 2


def test_delete_removes_the_run_and_its_cases(store: Store) -> None:
    kept, gone = store.begin_run(make_run(2)), store.begin_run(make_run(2))
    store.delete_run(gone)
    assert [s.id for s in store.list_runs()] == [kept]
    assert store.case_count(gone) == 0
    with pytest.raises(UserError, match="no run"):
        store.get_run(gone)


def test_load_results_reads_every_case(store: Store) -> None:
    store.begin_run(make_run(3))
    rows = load_results(store)
    assert len(rows) == 3
    assert sorted(rows["batch"] if hasattr(rows, "columns") else [r["batch"] for r in rows]) \
        == [8, 16, 32]


# --------------------------------------------------------------------------- imports


def test_a_run_imported_twice_is_recognised_and_stored_once(store: Store) -> None:
    doc = to_document(make_run(2))
    run_id = store.import_run(doc)
    with pytest.raises(UserError, match="the same run, imported before") as info:
        store.import_run(doc)
    assert "\n" not in str(info.value)
    assert store.import_run(doc, skip_existing=True) is None
    assert store.count_runs() == 1
    assert store.stored_hash(run_id) == store.stored_hash(run_id)


def test_another_run_under_a_stored_id_is_told_apart(store: Store) -> None:
    doc = to_document(make_run(2))
    store.import_run(doc)
    doc["run"]["label"] = "edited"
    with pytest.raises(UserError, match="a different run under the same id"):
        store.import_run(doc)
    assert store.get_run(doc["run"]["id"]).label is None


def test_a_run_measured_here_hashes_as_its_export(store: Store) -> None:
    run = make_run(2)
    store.begin_run(run)
    with pytest.raises(UserError, match="the same run"):
        store.import_run(store.export_run(run.id))


# --------------------------------------------------------------------------- many writers

WRITER = """
import sys
sys.path.insert(0, sys.argv[3])
from tests.factories import make_case, make_run
from greenbench.results_format import to_document
from greenbench.store import Store

location, tag, _, shared = sys.argv[1:5]
with Store(location) as store:
    for i in range(10):
        run = make_run(0, run_id=f"{tag}-{i:03d}", status="running")
        store.begin_run(run)
        store.add_case(run.id, 0, make_case(params={"i": i}))
        store.finish_run(run.id, "complete")
    import json
    doc = json.loads(open(shared).read())
    store.import_run(doc, skip_existing=True)  # every writer imports the same run
"""


def test_writers_in_several_processes_lose_no_run_and_duplicate_none(
        location: str, tmp_path: Path) -> None:
    import json

    shared = tmp_path / "shared.json"
    common = make_run(1, run_id="20250101-000000-common")
    shared.write_text(json.dumps(to_document(common)))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, location, tag, str(REPO),
                               str(shared)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for tag in ("a", "b", "c")]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    with Store(location, readonly=True) as s:
        runs = s.list_runs()
    ids = [r.id for r in runs]
    assert len(ids) == len(set(ids)) == 3 * 10 + 1
    assert {r.status for r in runs} == {"complete"}
    assert all(r.cases == 1 for r in runs)


KILLED = """
import os, signal, socket, sys
sys.path.insert(0, sys.argv[2])
from greenbench.store import Store
from tests.factories import make_case, make_run
run = make_run(0, status='running', run_id='20250101-000000-killed')
run.machine['hostname'] = socket.gethostname()
store = Store(sys.argv[1])
store.begin_run(run)
store.add_case(run.id, 0, make_case(params={"i": 0}))
print(run.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_mid_run_leaves_its_cases_and_reads_died(location: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLED, location, str(REPO)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    run_id = done.stdout.strip()
    with Store(location, readonly=True) as s:
        run = s.get_run(run_id)
        (summary,) = s.list_runs()
    assert run.status == DIED and summary.status == DIED
    assert [c.params for c in run.cases] == [{"i": 0}]
    with Store(location) as s:  # and the store takes new runs
        s.begin_run(make_run(1, run_id="20250101-000000-after"))
        assert s.count_runs() == 2
        with pytest.raises(UserError, match="the same run"):  # its export is that run
            s.import_run(s.export_run(run_id))


# --------------------------------------------------------------------------- the server


@pytest.fixture
def server_url(postgres_url: str) -> str:  # noqa: F811
    return postgres_url


def _terminate_others(server: Server, database: str) -> int:
    rows = server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
    return len(rows)


def test_a_connection_the_server_dropped_is_replaced(
        postgres_server: Server, server_url: str) -> None:  # noqa: F811
    database = server_url.rsplit("/", 1)[1]
    with Store(server_url) as store:
        run = make_run(0, status="running")
        store.begin_run(run)
        assert _terminate_others(postgres_server, database) >= 1
        store.add_case(run.id, 0, make_case())  # between transactions
        calls: list[int] = []
        import sqlalchemy as sa

        def dropped_inside(con: object) -> None:
            calls.append(1)
            if len(calls) == 1:  # the first try loses its connection mid-transaction
                _terminate_others(postgres_server, database)
            con.execute(sa.text("SELECT 1"))  # type: ignore[attr-defined]

        store._write(dropped_inside)
        assert len(calls) == 2
        store.finish_run(run.id, "complete")
        assert store.get_run(run.id).status == "complete"
        assert len(store.get_run(run.id).cases) == 1


def test_a_newer_schema_on_the_server_is_refused_unchanged(
        postgres_server: Server, server_url: str) -> None:  # noqa: F811
    database = server_url.rsplit("/", 1)[1]
    with Store(server_url) as store:
        store.begin_run(make_run(2))
    newer = f"{SCHEMA_VERSION + 1:04d}"
    postgres_server.sql(f"UPDATE alembic_version SET version_num = '{newer}'", database)
    for readonly in (False, True):
        with pytest.raises(UserError) as info:
            Store(server_url, readonly=readonly)
        message = str(info.value)
        assert f"newer greenbench (schema {SCHEMA_VERSION + 1} > {SCHEMA_VERSION})" in message
        assert "\n" not in message and PASSWORD not in message
    assert postgres_server.sql("SELECT version_num FROM alembic_version", database) == \
        [(newer,)]
    assert postgres_server.sql("SELECT count(*) FROM runs", database) == [(1,)]


def test_an_empty_database_is_no_store_to_read_or_delete_from(
        postgres_server: Server, server_url: str) -> None:  # noqa: F811
    for options in ({"readonly": True}, {"create": False}):
        with pytest.raises(UserError, match="no results store at .*nothing has been stored"):
            Store(server_url, **options)  # type: ignore[arg-type]
    database = server_url.rsplit("/", 1)[1]
    assert postgres_server.sql("SELECT to_regclass('runs') IS NULL", database) == [(True,)]


def test_a_database_with_another_programs_runs_table_is_refused(
        postgres_server: Server, server_url: str) -> None:  # noqa: F811
    database = server_url.rsplit("/", 1)[1]
    postgres_server.sql("CREATE TABLE runs (x int)", database)
    with pytest.raises(UserError, match="not a greenbench results store"):
        Store(server_url)


def test_a_wrong_password_is_one_line_without_any_password(
        postgres_server: Server, server_url: str) -> None:  # noqa: F811
    wrong = server_url.replace(PASSWORD, "Wrong-pw-42")
    with pytest.raises(UserError) as info:
        Store(wrong)
    message = str(info.value)
    assert "password authentication failed" in message
    assert "Wrong-pw-42" not in message and PASSWORD not in message and "\n" not in message


def test_the_password_is_in_no_message_record_or_export(server_url: str) -> None:
    with Store(server_url) as store:
        assert PASSWORD not in str(store.path)
        run_id = store.begin_run(make_run(1))
        with pytest.raises(UserError) as info:
            store.get_run("nothing-like-it")
        assert PASSWORD not in str(info.value)
        assert PASSWORD not in str(store.export_run(run_id))


def test_the_password_comes_from_a_file_or_pgpassword(
        server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = server_url.replace(f":{PASSWORD}@", "@")
    with pytest.raises(UserError, match="password"):
        Store(bare)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    monkeypatch.setenv("GREENBENCH_STORE_PASSWORD_FILE", str(secret))
    with Store(bare) as store:
        store.begin_run(make_run(1))
    monkeypatch.delenv("GREENBENCH_STORE_PASSWORD_FILE")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with Store(bare, readonly=True) as store:
        assert store.count_runs() == 1


def test_an_unreachable_server_is_one_line_within_the_connect_timeout() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError) as info:
        Store(f"postgresql://someone:hunter2-secret@127.0.0.1:{port}/db")
    message = str(info.value)
    assert "reachable" in message and "hunter2-secret" not in message
    assert "\n" not in message


def test_a_url_of_another_kind_is_refused_in_one_line() -> None:
    with pytest.raises(UserError, match="scheme 'mysql' is not supported"):
        Store("mysql://me:pw@127.0.0.1/db")


def test_a_password_in_the_environment_url_is_never_printed(
        server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENBENCH_STORE", server_url)
    with Store() as store:
        assert str(store.path) == server_url.replace(f":{PASSWORD}@", "@")
    assert os.environ["GREENBENCH_STORE"] == server_url


def test_a_url_whose_port_is_not_a_number_is_one_line_without_the_password() -> None:
    with pytest.raises(UserError, match="the port is not a number") as info:
        Store("postgresql://me:hunter2-pw@db.example:five/results")
    assert "hunter2-pw" not in str(info.value)


def test_a_password_is_scrubbed_as_written_and_decoded() -> None:
    from greenbench.store import store_path

    url = store_path("postgresql://me:p%40ss-word@db.example:5432/r?password=q-pw&sslmode=require")
    assert str(url) == "postgresql://me@db.example:5432/r?sslmode=require"
    assert url.scrub("p@ss-word, p%40ss-word and q-pw") == "***, *** and ***"
