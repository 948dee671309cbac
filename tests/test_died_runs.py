"""A run whose process is gone reads ``died``, not ``running`` for ever; a run killed with its
terminal (SIGHUP) ends ``interrupted``. Real processes, a real SQLite store."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenbench.run_owner import DIED, this_process
from greenbench.store import APPLICATION_ID, SCHEMA_VERSION, Store
from tests.cli_runner import run_cli
from tests.factories import make_run
from tests.test_store_upgrade import RELEASED_STEPS

HOSTILE = str(Path(__file__).parent / "data" / "hostile_workloads.py")


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def _here(run_status: str = "running") -> object:
    """A run of this machine (its hostname), as the runner begins it."""
    import socket

    run = make_run(1, status=run_status)
    run.machine["hostname"] = socket.gethostname()
    return run


def _begun_by_a_process_that_is_killed(path: Path) -> str:
    """Begin a run in another process, which then dies by SIGKILL (nothing is cleaned up)."""
    code = (
        "import os, signal, socket, sys\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from greenbench.store import Store\n"
        "from tests.factories import make_run\n"
        "run = make_run(1, status='running')\n"
        "run.machine['hostname'] = socket.gethostname()\n"
        "Store(sys.argv[1]).begin_run(run)\n"
        "print(run.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code, str(path), root], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip()


def test_a_run_whose_process_was_killed_reads_died_in_list_and_show(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run_id = _begun_by_a_process_that_is_killed(path)
    listed = run_cli(capsys, "results", "list", "--store", str(path))
    line = next(x for x in listed.out.splitlines() if run_id in x)
    assert DIED in line and "running" not in line
    listed_json = json.loads(run_cli(capsys, "results", "list", "--json", "--store",
                                     str(path)).out)
    assert [r["status"] for r in listed_json] == [DIED]
    shown = run_cli(capsys, "results", "show", run_id, "--store", str(path))
    assert f"run {run_id}: {DIED}" in shown.out


def test_load_results_gives_a_died_run_s_cases_that_status(tmp_path: Path) -> None:
    from greenbench.store import load_results

    path = tmp_path / "s.sqlite"
    _begun_by_a_process_that_is_killed(path)
    with Store(path, readonly=True) as store:
        rows = [dict(r) for r in store.iter_case_rows()]
    assert [r["run_status"] for r in rows] == [DIED]
    table = load_results(path)
    statuses = list(table["run_status"]) if hasattr(table, "columns") else \
        [r["run_status"] for r in table]
    assert statuses == [DIED]


def test_a_run_whose_process_lives_reads_running(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        run_id = store.begin_run(_here())  # this process: alive
        assert store.get_run(run_id).status == "running"
        assert [r.status for r in store.list_runs()] == ["running"]


def test_a_pid_taken_over_by_a_later_process_is_not_the_run_s(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        run_id = store.begin_run(_here())
    pid, started = this_process()
    con = sqlite3.connect(path)
    con.execute("UPDATE runs SET pid_started = ? WHERE id = ?", (started - 3600, run_id))
    con.commit()
    con.close()
    assert pid == os.getpid()
    with Store(path, readonly=True) as store:
        assert store.get_run(run_id).status == DIED


def test_a_run_of_another_host_keeps_its_status(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run_id = _begun_by_a_process_that_is_killed(path)
    con = sqlite3.connect(path)
    con.execute("UPDATE runs SET hostname = 'elsewhere' WHERE id = ?", (run_id,))
    con.commit()
    con.close()
    with Store(path, readonly=True) as store:
        assert store.get_run(run_id).status == "running"  # its pid means nothing here


def test_a_finished_run_is_never_called_died(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run_id = _begun_by_a_process_that_is_killed(path)
    with Store(path) as store:
        store.finish_run(run_id, "interrupted")
        assert store.get_run(run_id).status == "interrupted"


def test_a_died_run_exports_and_imports_as_died(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    run_id = _begun_by_a_process_that_is_killed(path)
    with Store(path, readonly=True) as store:
        doc = store.export_run(run_id)
    assert doc["run"]["status"] == DIED
    with Store(tmp_path / "other.sqlite") as other:
        other.import_run(doc)
        assert other.get_run(run_id).status == DIED


def _schema_1_store(path: Path) -> str:
    """A store written before runs recorded their process, holding one ``running`` run."""
    con = sqlite3.connect(path)
    con.executescript(RELEASED_STEPS[0])
    run = _here()
    con.execute(
        "INSERT INTO runs (id, created_utc, status, label, hostname, machine_key, is_estimate, "
        "machine, software, config, sensors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run.id, run.created_utc, run.status, run.label, run.machine.get("hostname"),
         run.machine_key, int(run.is_estimate), *(json.dumps(part) for part in (
             run.machine, run.software, run.config, run.sensors))))
    con.execute("PRAGMA user_version = 1")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.commit()
    con.close()
    return run.id  # type: ignore[attr-defined, no-any-return]


def test_a_store_of_schema_1_reads_read_only_and_migrates_keeping_its_runs(
        tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    run_id = _schema_1_store(path)
    with Store(path, readonly=True) as store:  # never migrated: no pid column to read
        assert [(r.id, r.status) for r in store.list_runs()] == [(run_id, "running")]
        assert store.get_run(run_id).status == "running"  # no process recorded: unknown
    with Store(path) as store:
        assert [(r.id, r.status) for r in store.list_runs()] == [(run_id, "running")]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_a_file_marked_schema_1_with_other_tables_is_refused_not_migrated(
        tmp_path: Path) -> None:
    from greenbench.errors import UserError

    path = tmp_path / "wrong.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id TEXT)")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(UserError, match="lacks"):
        Store(path)
    assert path.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "openpty") or not os.path.isdir("/proc/self"),
                    reason="needs a pseudo-terminal")
def test_a_run_killed_with_its_terminal_ends_interrupted_not_running(tmp_path: Path) -> None:
    import pty

    db = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "greenbench", "run", "napping",
           "-p", f"pid_file={tmp_path / 'worker.pid'}",
           "-p", "sleep_s=0.01,0.011,0.012,0.013,0.014,0.015", "--workload-file", HOSTILE,
           "--store", str(db), "--repeats", "2", "--min-duration", "0.1", "--warmup", "0.1",
           "--idle", "0.1"]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: greenbench in a terminal of its own
        os.execv(sys.executable, cmd)

    def stored_cases() -> int:
        try:
            with sqlite3.connect(db) as con:
                return int(con.execute("SELECT COUNT(*) FROM cases").fetchone()[0])
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and stored_cases() < 1:
        if select.select([terminal], [], [], 0.1)[0]:
            try:
                os.read(terminal, 65536)  # keep the terminal drained
            except OSError:
                break
    try:
        assert stored_cases() >= 1
    finally:
        os.close(terminal)  # the terminal goes away: the kernel sends SIGHUP
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), "greenbench died of the signal instead of stopping"
    with Store(db, readonly=True) as store:
        run = store.get_run("latest")
    assert run.status == "interrupted"
    assert run.cases and all(c.status == "ok" for c in run.cases)
