"""The results store: every run and case in one SQLite file.

Where: ``--store PATH``, else ``$GREENBENCH_STORE``, else ``results/greenbench.sqlite`` under
the current directory (:func:`store_path`).

Safe for several greenbench processes at once: WAL mode (readers never block the writer), a
busy timeout, short ``BEGIN IMMEDIATE`` transactions (take the write lock up front, so two
writers queue instead of dead-locking on a lock upgrade) and a retry on top. Every case is
committed the moment it finishes, so an interrupted run keeps all finished cases.

Schema (version :data:`SCHEMA_VERSION`, in ``PRAGMA user_version``; ``PRAGMA application_id``
marks the file as a greenbench store):

- ``runs``: one row per run. Light columns (``id``, ``created_utc``, ``status``, ``label``,
  ``hostname``, ``machine_key``, ``is_estimate``) serve ``list`` without decoding any JSON; the
  rest of the RunRecord is JSON text (``machine``, ``software``, ``config``, ``sensors``,
  ``footprint``). ``pid`` and ``pid_started`` name the process that began the run: a
  ``running`` run begun on this host whose process is gone is read as ``died``.
- ``cases``: one row per case, keyed by (``run_id``, ``idx``): ``workload``, ``params`` and
  ``status`` as columns, the CaseRecord without its trace as JSON text in ``record``, and the raw
  power trace as zlib-compressed JSON in the ``trace`` BLOB.

A file that is not a healthy greenbench store is refused *before* SQLite opens it for writing,
so a corrupt or foreign file is never "repaired" or overwritten. The check goes through SQLite
itself (a read-only connection, which reads the ``-wal`` file too, then ``PRAGMA quick_check``):
after a checkpoint cut short by a full disk, the main file alone looks truncated while SQLite
reads every run intact from it and its ``-wal``. The three files are one store; messages never
suggest moving one of them alone.

Commands that only read open the store read-only (``readonly=True``): nothing is created,
migrated or written, and a store on a read-only mount reads as well as any other.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from greenbench.errors import UserError
from greenbench.records import CaseRecord, RunRecord
from greenbench.results_format import case_is_estimate, from_document, json_safe, to_document

DEFAULT_STORE = Path("results") / "greenbench.sqlite"
STORE_ENV = "GREENBENCH_STORE"

APPLICATION_ID = 0x67626E63  # "gbnc": tells a greenbench store from any other SQLite file
BUSY_TIMEOUT_S = 30.0
WRITE_RETRIES = 5
LATEST_SHOWN = 5  # ids listed when a reference matches nothing

_T = TypeVar("_T")


# --------------------------------------------------------------------------- schema

MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE runs (
        seq          INTEGER PRIMARY KEY,  -- insertion order: breaks ties in created_utc
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
    # 1 -> 2: the process writing a run (pid and start time), so that a run whose process is
    # gone reads "died" (greenbench.run_owner); NULL for runs stored before, or imported.
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN pid_started REAL;
    """,
    # 2 -> 3: the distributed job of a multi-host run (RunRecord.job, JSON); NULL on one host.
    """
    ALTER TABLE runs ADD COLUMN job TEXT;
    """,
]
"""Step i takes the schema from version i to i + 1. Append; never edit a released step."""

SCHEMA_VERSION = len(MIGRATIONS)


def store_path(option: str | Path | None = None) -> Path:
    """The store to use: the ``--store`` option, else $GREENBENCH_STORE, else the default."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.cwd() / DEFAULT_STORE


@dataclass(frozen=True)
class RunSummary:
    """What ``results list`` shows of a run, read without decoding any case."""

    id: str
    created_utc: str
    status: str
    label: str | None
    hostname: str | None
    machine_key: str
    is_estimate: bool
    cases: int
    cases_ok: int
    workloads: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``results list --json``)."""
        return asdict(self)


# --------------------------------------------------------------------------- the store


class Store:
    """One results store file. Use as a context manager, or call :meth:`close`.

    ``create=False`` refuses a missing (or zero-length) file instead of creating it;
    ``readonly=True`` (for commands that only read) also opens it read-only, so that nothing
    is ever written to it. Problems the user can fix (unwritable folder, corrupt file, newer
    schema) raise :class:`UserError` with the path and what to do.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True,
                 readonly: bool = False) -> None:
        self.path = store_path(path)
        self.readonly = readonly
        _check_existing_file(self.path, create and not readonly, readonly)
        if readonly:
            self._con = _open_readonly(self.path)
            return
        self._con = _open(self.path)
        try:
            self._write(lambda con: _migrate(con, self.path))
        except BaseException:
            self._con.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; the last one out folds the WAL back into the file."""
        self._con.close()

    # -- writing a run as it happens

    def begin_run(self, run: RunRecord) -> str:
        """Store a new run (and any cases it already has); return its id."""

        from greenbench.run_owner import this_process

        owner = this_process() if run.status == "running" else (None, None)

        def insert(con: sqlite3.Connection) -> None:
            _insert_run(con, run, self.path)
            con.execute("UPDATE runs SET pid = ?, pid_started = ? WHERE id = ?",
                        (*owner, run.id))
            for index, case in enumerate(run.cases):
                _insert_case(con, run.id, index, case)

        self._write(insert)
        return run.id

    def add_case(self, run_id: str, index: int, case: CaseRecord) -> None:
        """Store one finished case (replacing an earlier one at the same index)."""

        def insert(con: sqlite3.Connection) -> None:
            self._require(con, run_id)
            _insert_case(con, run_id, index, case)

        self._write(insert)

    def finish_run(self, run_id: str, status: str, footprint: dict[str, Any] | None = None
                   ) -> None:
        """Set the final status (and the footprint, when given) of a run."""

        def update(con: sqlite3.Connection) -> None:
            self._require(con, run_id)
            if footprint is None:
                con.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))
            else:
                con.execute("UPDATE runs SET status = ?, footprint = ? WHERE id = ?",
                            (status, _dumps(footprint), run_id))

        self._write(update)

    def delete_run(self, run_id: str) -> None:
        """Remove a run and its cases."""

        def delete(con: sqlite3.Connection) -> None:
            self._require(con, run_id)
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))

        self._write(delete)

    # -- reading

    def resolve(self, ref: str) -> str:
        """The id of a run given as an id, a unique id prefix or suffix, ``latest`` or
        ``latest~N`` (the N-th before the latest)."""
        ref = ref.strip()
        if not ref:
            raise UserError("empty run reference: give a run id, a prefix of one, or latest")
        if ref == "latest" or ref.startswith("latest~"):
            return self._nth_latest(ref)
        rows = self._read(lambda con: con.execute(
            # An exact id, a prefix, or the random tail after the last "-" of the id.
            "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 "
            "OR substr(id, length(id) - length(?1)) = '-' || ?1 "
            "ORDER BY created_utc DESC, seq DESC", (ref,)).fetchall())
        ids = [r[0] for r in rows]
        if ref in ids:
            return ref
        if len(ids) == 1:
            return str(ids[0])
        if ids:
            shown = ", ".join(ids[:LATEST_SHOWN]) + (" ..." if len(ids) > LATEST_SHOWN else "")
            raise UserError(f"run {ref!r} is ambiguous in {self.path}: it matches {shown}; "
                            "give more characters")
        raise UserError(self._unknown_message(ref, None))

    def get_run(self, ref: str) -> RunRecord:
        """The run with all its cases (traces included), in case order. ``ref`` is a run id or
        anything :meth:`resolve` accepts."""
        from greenbench.run_owner import shown_status

        run_id = self.resolve(ref)

        def read(con: sqlite3.Connection) -> RunRecord:
            row = con.execute(
                "SELECT id, created_utc, status, machine, software, config, sensors, "
                f"footprint, label, {_job_column(con)}, hostname, {_owner_columns(con)} "
                "FROM runs WHERE id = ?",
                (run_id,)).fetchone()
            if row is None:
                raise UserError(self._unknown_message(run_id, con))
            cases = con.execute(
                "SELECT record, trace FROM cases WHERE run_id = ? ORDER BY idx",
                (run_id,)).fetchall()
            run = _decoded(self.path, f"run {run_id}", _run_from_row, row[:10], cases)
            run.status = shown_status(run.status, *row[10:])
            return run

        return self._read(read)

    def list_runs(self, limit: int | None = None) -> list[RunSummary]:
        """Light summaries of the latest runs, newest first; no case JSON is decoded."""
        from greenbench.run_owner import shown_status

        def read(con: sqlite3.Connection) -> list[Any]:
            return con.execute(
                "SELECT r.id, r.created_utc, r.status, r.label, r.hostname, r.machine_key, "
                "r.is_estimate, COUNT(c.idx), COALESCE(SUM(c.status = 'ok'), 0), "
                f"GROUP_CONCAT(DISTINCT c.workload), {_owner_columns(con, 'r.')} "
                "FROM runs r LEFT JOIN cases c ON c.run_id = r.id "
                "GROUP BY r.seq ORDER BY r.created_utc DESC, r.seq DESC LIMIT ?",
                (-1 if limit is None else limit,)).fetchall()

        return [
            RunSummary(id=r[0], created_utc=r[1], status=shown_status(r[2], r[4], *r[10:]),
                       label=r[3], hostname=r[4], machine_key=r[5], is_estimate=bool(r[6]),
                       cases=r[7], cases_ok=r[8],
                       workloads=sorted(r[9].split(",")) if r[9] else [])
            for r in self._read(read)
        ]

    def count_runs(self) -> int:
        """How many runs the store holds."""
        return int(self._read(lambda con: con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]))

    # -- exchange

    def export_run(self, run_id: str) -> dict[str, Any]:
        """The run as an export document (docs/results-format.md)."""
        return to_document(self.get_run(run_id))

    def import_run(self, doc: dict[str, Any], *, skip_existing: bool = False,
                   source: str = "document") -> str | None:
        """Store an exported run; return its id, or None when skipped.

        A run whose id is already stored is refused with a UserError, or skipped (None) with
        ``skip_existing``: an id names one measurement, so it is never overwritten.
        """
        return self.import_runs([(from_document(doc, source), source)],
                                skip_existing=skip_existing)[0]

    def import_runs(self, runs: Sequence[tuple[RunRecord, str]], *,
                    skip_existing: bool = False) -> list[str | None]:
        """Store runs (each with the file it came from) in one transaction: all of them or,
        on a refusal, none. Returns each id, or None for a run skipped with
        ``skip_existing`` (already stored, or an earlier one of ``runs`` has its id)."""
        first_source: dict[str, str] = {}
        for run, source in runs:
            if run.id in first_source and not skip_existing:
                raise UserError(f"{first_source[run.id]} and {source} both hold run {run.id}; "
                                "nothing imported (drop one, or use --skip-existing)")
            first_source.setdefault(run.id, source)

        def insert(con: sqlite3.Connection) -> list[str | None]:
            done: list[str | None] = []
            for run, source in runs:
                if con.execute("SELECT 1 FROM runs WHERE id = ?", (run.id,)).fetchone():
                    if skip_existing:
                        done.append(None)
                        continue
                    raise UserError(f"{source}: run {run.id} is already in {self.path}; "
                                    "nothing imported (use --skip-existing to ignore runs "
                                    "already there)")
                _insert_run(con, run, self.path)
                for index, case in enumerate(run.cases):
                    _insert_case(con, run.id, index, case)
                done.append(run.id)
            return done

        return self._write(insert)

    def case_count(self, run_id: str) -> int:
        """How many cases a run holds."""
        return int(self._read(lambda con: con.execute(
            "SELECT COUNT(*) FROM cases WHERE run_id = ?", (run_id,)).fetchone()[0]))

    def iter_case_rows(self) -> Iterator[dict[str, Any]]:
        """Every case with its run's light facts and its summary (traces not read)."""
        from greenbench.run_owner import shown_status

        def read(con: sqlite3.Connection) -> list[Any]:
            return con.execute(
                "SELECT r.id, r.created_utc, r.hostname, r.machine_key, r.label, r.status, "
                "r.is_estimate, c.idx, c.workload, c.params, c.status, c.record, "
                f"{_owner_columns(con, 'r.')} FROM cases c JOIN runs r ON r.id = c.run_id "
                "ORDER BY r.created_utc, r.seq, c.idx").fetchall()

        for row in self._read(read):
            what = f"run {row[0]} case {row[7]}"
            record = _decoded(self.path, what, json.loads, row[11])
            params = _decoded(self.path, what, json.loads, row[9])
            yield {
                "run_id": row[0], "created_utc": row[1], "machine": row[2],
                "machine_key": row[3], "label": row[4],
                "run_status": shown_status(row[5], row[2], *row[12:]),
                "run_estimate": bool(row[6]), "case_index": row[7], "workload": row[8],
                "params": params, "status": row[10], "record": record,
            }

    # -- internals

    def _nth_latest(self, ref: str) -> str:
        back = ref[len("latest~"):] if "~" in ref else "0"
        if not back.isdigit():
            raise UserError(f"run {ref!r}: use latest, or latest~N with N a number (latest~1 "
                            "is the run before the latest)")
        n = int(back)
        row = self._read(lambda con: con.execute(
            "SELECT id FROM runs ORDER BY created_utc DESC, seq DESC LIMIT 1 OFFSET ?",
            (n,)).fetchone())
        if row is None:
            total = self.count_runs()
            if total == 0:
                raise UserError(f"no runs in {self.path} yet: run `greenbench run` first, or "
                                "pass --store PATH")
            raise UserError(f"run {ref!r}: {self.path} holds only {total} run(s)")
        return str(row[0])

    def _unknown_message(self, ref: str, con: sqlite3.Connection | None) -> str:
        """"No such run", with the latest ids; ``con`` when called inside a transaction."""
        sql = "SELECT id FROM runs ORDER BY created_utc DESC, seq DESC LIMIT ?"

        def latest_ids(c: sqlite3.Connection) -> list[str]:
            return [r[0] for r in c.execute(sql, (LATEST_SHOWN,))]

        latest = latest_ids(con) if con is not None else self._read(latest_ids)
        if not latest:
            return f"no run {ref!r}: {self.path} holds no runs yet"
        return (f"no run {ref!r} in {self.path}; latest: {', '.join(latest)} "
                "(see `greenbench results list`)")

    def _require(self, con: sqlite3.Connection, run_id: str) -> None:
        if con.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise UserError(self._unknown_message(run_id, con))

    def _write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn`` in one short write transaction, retrying while another writer holds the
        lock beyond the busy timeout."""
        return _retry(self.path, lambda: _transaction(self._con, fn, "BEGIN IMMEDIATE"))

    def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        # One deferred transaction: a consistent snapshot of runs and cases together.
        return _retry(self.path, lambda: _transaction(self._con, fn, "BEGIN"))


def load_results(store: Store | str | Path | None = None) -> Any:
    """Every stored case as a table: a pandas DataFrame when pandas is installed, else a list
    of dicts.

    One row per case: ``run_id``, ``created_utc``, ``machine`` (host name), ``machine_key``,
    ``label``, ``run_status``, ``estimate``, ``case_index``, ``workload``, ``unit``, one column
    per parameter (``param_<name>`` where a name clashes with these), ``status`` (the case's),
    and the median of each metric (``energy_per_unit_j``, ``time_s``, ...).
    """
    with _as_store(store) as s:
        rows = [_flat_case_row(r) for r in s.iter_case_rows()]
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- helpers: rows


def _insert_run(con: sqlite3.Connection, run: RunRecord, path: Path) -> None:
    try:
        con.execute(
            "INSERT INTO runs (id, created_utc, status, label, hostname, machine_key, "
            "is_estimate, machine, software, config, sensors, footprint, job) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.id, run.created_utc, run.status, run.label, run.machine.get("hostname"),
             run.machine_key, int(run.is_estimate), _dumps(run.machine), _dumps(run.software),
             _dumps(run.config), _dumps(run.sensors),
             None if run.footprint is None else _dumps(run.footprint),
             None if run.job is None else _dumps(run.job)))
    except sqlite3.IntegrityError:
        raise UserError(f"run {run.id} is already in {path}") from None


def _insert_case(con: sqlite3.Connection, run_id: str, index: int, case: CaseRecord) -> None:
    record = case.to_dict()
    trace = record.pop("trace")
    blob = None if trace is None else zlib.compress(_dumps(trace).encode(), 6)
    con.execute(
        "INSERT OR REPLACE INTO cases (run_id, idx, workload, params, status, record, trace) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, index, case.workload, _dumps(case.params), case.status, _dumps(record), blob))


def _owner_columns(con: sqlite3.Connection, prefix: str = "") -> str:
    """``pid, pid_started``, or two NULLs in a store of schema 1 opened read-only (never
    migrated, so without them)."""
    found = {r[1] for r in con.execute('PRAGMA table_info("runs")')}
    if {"pid", "pid_started"} <= found:
        return f"{prefix}pid, {prefix}pid_started"
    return "NULL, NULL"


def _job_column(con: sqlite3.Connection) -> str:
    """``job``, or NULL in a store of schema 2 or older opened read-only (never migrated)."""
    found = {r[1] for r in con.execute('PRAGMA table_info("runs")')}
    return "job" if "job" in found else "NULL"


def _run_from_row(row: Sequence[Any], cases: Sequence[Sequence[Any]]) -> RunRecord:
    records = []
    for record_text, blob in cases:
        record = json.loads(record_text)
        record["trace"] = None if blob is None else json.loads(zlib.decompress(blob))
        records.append(CaseRecord.from_dict(record))
    return RunRecord(
        id=row[0], created_utc=row[1], status=row[2], machine=json.loads(row[3]),
        software=json.loads(row[4]), config=json.loads(row[5]), sensors=json.loads(row[6]),
        footprint=None if row[7] is None else json.loads(row[7]), label=row[8],
        job=None if row[9] is None else json.loads(row[9]), cases=records,
    )


_FIXED_COLUMNS = ("run_id", "created_utc", "machine", "machine_key", "label", "run_status",
                  "estimate", "case_index", "workload", "unit", "status")


def _flat_case_row(r: dict[str, Any]) -> dict[str, Any]:
    record = r["record"]
    case = CaseRecord.from_dict({**record, "trace": None})
    row: dict[str, Any] = {
        "run_id": r["run_id"], "created_utc": r["created_utc"], "machine": r["machine"],
        "machine_key": r["machine_key"], "label": r["label"], "run_status": r["run_status"],
        "estimate": case_is_estimate(case, r["run_estimate"]),
        "case_index": r["case_index"], "workload": r["workload"], "unit": case.unit,
    }
    for name, value in r["params"].items():
        row[f"param_{name}" if name in _FIXED_COLUMNS else name] = value
    row["status"] = r["status"]
    for metric in sorted({m for rep in case.repeats for m in rep.metrics} | set(case.summary)):
        summary = case.summary.get(metric)
        if summary is not None:
            row[metric] = summary.median
        else:
            values = sorted(case.values(metric))
            row[metric] = _median(values) if values else None
    return row


def _median(ordered: list[float]) -> float:
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _dumps(value: Any) -> str:
    """Compact JSON; a NaN or infinity is stored as null (the runner notes it in the case's
    flags), so that every stored document stays valid JSON."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(json_safe(value), separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)


@contextmanager
def _as_store(store: Store | str | Path | None) -> Iterator[Store]:
    if isinstance(store, Store):
        yield store
        return
    with Store(store, readonly=True) as s:
        yield s


# --------------------------------------------------------------------------- helpers: SQLite


def _check_existing_file(path: Path, create: bool, readonly: bool) -> None:
    """Refuse, without writing a byte, anything at ``path`` that is not a healthy store we can
    use: a folder, a foreign or corrupt file, a newer or unknown schema, an unwritable
    location (unless only reading)."""
    if path.is_dir():
        raise UserError(f"results store {path} is a folder: pass a file path with --store")
    exists = path.exists()
    if exists and path.stat().st_size == 0 and not create:
        # SQLite would take an empty file for an empty database; only a command that stores
        # runs may turn it into a store.
        raise UserError(f"no results store at {path}: the file is empty, nothing has been "
                        f"stored there yet (pass --store PATH or set {STORE_ENV})")
    if not exists:
        if not create:
            raise UserError(f"no results store at {path}: nothing has been stored there yet "
                            f"(pass --store PATH or set {STORE_ENV})")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create results store {path}: {exc.strerror or exc}; pass "
                            f"a writable --store PATH or set {STORE_ENV}") from None
    elif path.stat().st_size > 0:
        # a store another process is creating (in WAL mode: it has a -wal file) can look
        # foreign from outside its write lock; a writer then decides under the lock (_migrate)
        being_written = path.with_name(path.name + "-wal").exists()
        empty = _check_readable_store(path, foreign_later=being_written and not readonly)
        if empty and readonly:
            raise UserError(f"no runs in results store {path}: it is an empty database "
                            f"(pass --store PATH or set {STORE_ENV})")
    if readonly:
        return
    # SQLite writes the -wal and -shm files next to the store, so the folder must be writable.
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"results store {path} is not writable; pass a writable --store PATH "
                        f"or set {STORE_ENV}")


def _check_readable_store(path: Path, foreign_later: bool = False) -> bool:
    """Check through SQLite, read-only (so reading the ``-wal`` file too), that the file is a
    greenbench store of a schema we know, and that its pages are sound (``quick_check``).
    True when it is an SQLite database with nothing in it yet."""
    try:
        con = _connect_readonly(path)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from None
    try:
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == APPLICATION_ID and 0 < version <= SCHEMA_VERSION:
            _check_schema(con, path, version)
            problem = con.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":
                raise _corrupt(path, str(problem))
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise UserError(f"results store {path} stayed locked by another process for over "
                            f"{BUSY_TIMEOUT_S:.0f} s; try again when it has finished") from None
        if "decode" in str(exc).lower():  # the schema's text is not UTF-8: damage
            raise _corrupt(path, str(exc).split(" with text ")[0]) from None
        raise _unreadable(path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise _corrupt(path, str(exc)) from None
    except UnicodeDecodeError:  # the schema's own text is damaged
        raise _corrupt(path, "its schema is not valid UTF-8") from None
    finally:
        con.close()
    if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
        raise UserError(f"results store {path} was written by a newer greenbench (schema "
                        f"{version} > {SCHEMA_VERSION}): upgrade greenbench or use another "
                        "--store")
    if app_id != APPLICATION_ID and (tables or version) and not foreign_later:
        raise _foreign(path)
    if app_id == APPLICATION_ID and version == 0:
        # The first migration sets the version and the application id together: marked but
        # unversioned is nobody's store. (An older version is migrated by _migrate.)
        raise _wrong_schema(path, "schema version 0")
    return app_id != APPLICATION_ID


def _check_schema(con: sqlite3.Connection, path: Path, version: int) -> None:
    """The tables and columns of schema ``version``: a file marked as ours with other tables
    is refused, never queried into a traceback or "migrated"."""
    for table, columns in _expected_columns(version).items():
        found = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
        missing = sorted(columns - found)
        if not found:
            raise _wrong_schema(path, f"no table {table!r}")
        if missing:
            raise _wrong_schema(path, f"table {table!r} lacks {', '.join(missing)}")


@cache
def _expected_columns(version: int) -> dict[str, frozenset[str]]:
    """Columns of every table of schema ``version``, read from a scratch in-memory database."""
    con = sqlite3.connect(":memory:")
    try:
        for step in MIGRATIONS[:version]:
            con.executescript(step)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: frozenset(r[1] for r in con.execute(f'PRAGMA table_info("{t}")'))
                for t in tables}
    finally:
        con.close()


def _corrupt(path: Path, why: str) -> UserError:
    why = " ".join(why.replace("*** in database main ***", "").split())  # quick_check: lines
    if len(why) > 160:
        why = why[:159] + "…"
    return UserError(f"results store {path} is corrupt ({why}); left untouched. Keep it with "
                     f"its -wal and -shm files (moving one alone loses runs) and pass another "
                     f"--store PATH")


def _wrong_schema(path: Path, why: str) -> UserError:
    return UserError(f"results store {path} has greenbench's mark but not its schema ({why}); "
                     "left untouched: pass another --store PATH")


def _unreadable(path: Path, exc: sqlite3.Error) -> UserError:
    text = str(exc)
    if "unable to open" in text.lower() and not os.access(path.parent, os.W_OK):
        return UserError(f"results store {path} cannot be read: its folder is read-only and "
                         "SQLite needs to create its -shm file beside its -wal file; copy the "
                         "store with its -wal file to a writable folder")
    if "not a database" in text.lower() or "malformed" in text.lower():
        return _corrupt(path, text)
    return UserError(f"results store {path} cannot be read: {text}")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that still sees the ``-wal`` file. Where the folder is read-only
    and there is no ``-wal`` (nothing outside the file), ``immutable=1`` spares SQLite the
    ``-shm`` file it could not create."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not os.access(path.parent, os.W_OK) and not wal.exists():
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)


def _open_readonly(path: Path) -> sqlite3.Connection:
    try:
        return _connect_readonly(path)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from None


def _decoded(path: Path, what: str, fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)``, decoding stored JSON/zlib content; damage is reported as a corrupt
    store."""
    try:
        return fn(*args)
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error) as exc:
        # ValueError covers json.JSONDecodeError and UnicodeDecodeError.
        raise _corrupt(path, f"{what} cannot be decoded: {type(exc).__name__}") from None


def _open(path: Path) -> sqlite3.Connection:
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, to choose BEGIN IMMEDIATE.
        con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise UserError(f"cannot open results store {path}: {exc}") from None
    try:
        _retry(path, lambda: con.execute("PRAGMA journal_mode=WAL").fetchone())
        # NORMAL is durable against a crashed process in WAL mode; only a power cut can lose
        # the last commits, and it saves an fsync per case.
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        con.close()
        raise
    return con


def _foreign(path: Path) -> UserError:
    return UserError(f"{path} is an SQLite file but not a greenbench results store; pass "
                     "another --store PATH")


def _migrate(con: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; runs inside the write lock, so two processes that
    open a fresh store at once migrate it once (and tell a foreign file from a store the
    other one is creating)."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    app_id = con.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID and (version or con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' LIMIT 1").fetchone()):
        raise _foreign(path)
    if version > SCHEMA_VERSION:
        raise UserError(f"results store {path} was written by a newer greenbench (schema "
                        f"{version} > {SCHEMA_VERSION}): upgrade greenbench or use another "
                        "--store")
    for step in MIGRATIONS[version:]:
        for statement in step.split(";"):
            if statement.strip():
                con.execute(statement)
    if version < SCHEMA_VERSION:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _transaction(con: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T],
                 begin: str) -> _T:
    try:
        # Inside the try: a Ctrl-C that lands just as BEGIN returns still ends the transaction.
        con.execute(begin)
        result = fn(con)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:  # a failed COMMIT leaves it open; a retry must start clean
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
        raise
    return result


def _retry(path: Path, fn: Callable[[], _T]) -> _T:
    """Call ``fn``, retrying with back-off while the database is locked by another process."""
    for attempt in range(WRITE_RETRIES):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "decode" in str(exc).lower():  # a text column that is not UTF-8: damage
                raise _corrupt(path, str(exc).split(" with text ")[0]) from None
            if _is_environmental(exc):
                raise UserError(f"results store {path}: {exc}; pass another --store PATH or "
                                "free the disk") from None
            if not _is_busy(exc):
                raise
            if attempt == WRITE_RETRIES - 1:
                break
            time.sleep(0.05 * 2**attempt)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
            raise _corrupt(path, str(exc)) from None
        except UnicodeDecodeError:
            raise _corrupt(path, "stored text is not valid UTF-8") from None
    raise UserError(f"results store {path} stayed locked by another process for over "
                    f"{BUSY_TIMEOUT_S:.0f} s; try again when it has finished")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_environmental(exc: sqlite3.OperationalError) -> bool:
    """Errors of the file system around the store, not of greenbench: the user can fix them."""
    text = str(exc).lower()
    return any(w in text for w in ("readonly", "read-only", "disk", "unable to open", "full"))
