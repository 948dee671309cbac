"""The Store: runs and their cases in an SQLite file or a PostgreSQL database, one
implementation over SQLAlchemy Core (greenbench.store.schema) for both.

Every case is committed the moment it finishes, so an interrupted run keeps all finished
cases; a run goes in with the cases it already has in one transaction, so a reader sees a run
whole, or ``running``. A ``running`` run begun on this host whose process is gone is read as
``died`` (greenbench.run_owner).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from greenbench.errors import UserError
from greenbench.records import CaseRecord, RunRecord
from greenbench.results_format import from_document, to_document
from greenbench.store import server, sqlite_file
from greenbench.store.location import STORE_ENV, ServerURL, store_path
from greenbench.store.migrate import upgrade
from greenbench.store.rows import (
    case_values,
    content_hash,
    dumps,
    flat_case_row,
    run_from_row,
    run_values,
)
from greenbench.store.schema import SCHEMA_VERSION, cases, runs

LATEST_SHOWN = 5  # ids listed when a reference matches nothing

_T = TypeVar("_T")


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
    #: the hosts a multi-host run's job expected (1 on one host), and how many of them
    #: sent no report in time
    hosts: int = 1
    missing_hosts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``results list --json``)."""
        return asdict(self)


def _job_hosts(job: dict[str, Any] | None) -> dict[str, int]:
    """RunSummary's host counts from a stored job (None on one host)."""
    if job is None:
        return {}
    return {"hosts": len(job["expected_hosts"]), "missing_hosts": len(job["missing_hosts"])}


class Store:
    """One results store: an SQLite file (a path) or a PostgreSQL database (a
    ``postgresql://`` URL). Use as a context manager, or call :meth:`close`.

    ``create=False`` refuses a missing (or zero-length) file instead of creating it;
    ``readonly=True`` (for commands that only read) also opens it read-only, so that nothing
    is ever written to it. Problems the user can fix (unwritable folder, corrupt file, newer
    schema, a server that cannot be reached) raise :class:`UserError` with what to do.
    """

    def __init__(self, path: str | Path | ServerURL | None = None, *, create: bool = True,
                 readonly: bool = False) -> None:
        self.path: Path | ServerURL = store_path(path)
        self.readonly = readonly
        options = {"json_serializer": dumps, "json_deserializer": json.loads}
        if isinstance(self.path, ServerURL):
            self._engine = server.engine(self.path, **options)
        else:
            sqlite_file.check_existing_file(self.path, create and not readonly, readonly)
            self._engine = sqlite_file.engine(self.path, readonly, **options)
        self._columns: dict[str, set[str]] | None = None  # all of them, unless read-only
        try:
            if readonly:
                self._columns = self._transaction(self._open_for_reading, write=False,
                                                  attempts=1)
            else:
                self._transaction(lambda con: self._migrate(con, create), write=True,
                                  attempts=1)
        except BaseException:
            self._engine.dispose()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections; on SQLite the last one out folds the WAL into the file."""
        self._engine.dispose()

    # -- writing a run as it happens

    def begin_run(self, run: RunRecord) -> str:
        """Store a new run (and any cases it already has); return its id."""
        from greenbench.run_owner import this_process

        owner = this_process() if run.status == "running" else (None, None)

        def insert(con: sa.Connection) -> None:
            self._insert_run(con, run, pid=owner[0], pid_started=owner[1])

        try:
            self._write(insert)
        except sa_exc.IntegrityError:
            raise UserError(f"run {run.id} is already in {self.path}") from None
        return run.id

    def add_case(self, run_id: str, index: int, case: CaseRecord) -> None:
        """Store one finished case (replacing an earlier one at the same index)."""

        def insert(con: sa.Connection) -> None:
            self._require(con, run_id)
            con.execute(cases.delete().where(cases.c.run_id == run_id, cases.c.idx == index))
            con.execute(cases.insert().values(case_values(run_id, index, case)))

        self._write(insert)

    def finish_run(self, run_id: str, status: str, footprint: dict[str, Any] | None = None,
                   job: dict[str, Any] | None = None) -> None:
        """Set the final status (and the footprint and the distributed job, when given) of
        a run."""
        values: dict[str, Any] = {"status": status}
        if footprint is not None:
            values["footprint"] = footprint
        if job is not None:
            values["job"] = job

        def update(con: sa.Connection) -> None:
            self._require(con, run_id)
            con.execute(runs.update().where(runs.c.id == run_id).values(values))

        self._write(update)

    def delete_run(self, run_id: str) -> None:
        """Remove a run and its cases."""

        def delete(con: sa.Connection) -> None:
            self._require(con, run_id)
            con.execute(cases.delete().where(cases.c.run_id == run_id))
            con.execute(runs.delete().where(runs.c.id == run_id))

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
        # An exact id, a prefix, or the random tail after the last "-" of the id.
        query = (sa.select(runs.c.id)
                 .where(sa.or_(runs.c.id.startswith(ref, autoescape=True),
                               runs.c.id.endswith("-" + ref, autoescape=True)))
                 .order_by(*_newest_first()))
        ids = self._read(lambda con: list(con.execute(query).scalars()))
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
        run, owner = self._read(lambda con: self._stored_run(con, run_id))
        run.status = shown_status(run.status, *owner)
        return run

    def list_runs(self, limit: int | None = None) -> list[RunSummary]:
        """Light summaries of the latest runs, newest first; no case JSON is decoded."""
        from greenbench.run_owner import shown_status

        counts = (sa.select(cases.c.run_id, sa.func.count().label("n"),
                            sa.func.sum(sa.case((cases.c.status == "ok", 1), else_=0))
                            .label("ok"))
                  .group_by(cases.c.run_id).subquery())
        query = (sa.select(runs.c.id, runs.c.created_utc, runs.c.status, runs.c.label,
                           runs.c.hostname, runs.c.machine_key, runs.c.is_estimate,
                           sa.func.coalesce(counts.c.n, 0), sa.func.coalesce(counts.c.ok, 0),
                           *self._owner(), self._column("job"))
                 .select_from(runs.outerjoin(counts, counts.c.run_id == runs.c.id))
                 .order_by(*_newest_first()).limit(limit))

        def read(con: sa.Connection) -> tuple[list[Any], dict[str, list[str]]]:
            rows = list(con.execute(query).all())
            ids = [r[0] for r in rows]
            workloads: dict[str, list[str]] = {}
            for start in range(0, len(ids), 500):
                for run_id, workload in con.execute(
                        sa.select(cases.c.run_id, cases.c.workload).distinct()
                        .where(cases.c.run_id.in_(ids[start:start + 500]))):
                    workloads.setdefault(run_id, []).append(workload)
            return rows, workloads

        # a stored job is decoded as its row is read
        rows, workloads = self._decoded("a run's job", self._read, read)
        return [
            RunSummary(id=r[0], created_utc=r[1], status=shown_status(r[2], r[4], *r[9:11]),
                       label=r[3], hostname=r[4], machine_key=r[5], is_estimate=bool(r[6]),
                       cases=int(r[7]), cases_ok=int(r[8]),
                       workloads=sorted(workloads.get(r[0], [])),
                       **self._decoded(f"run {r[0]}'s job", _job_hosts, r[11]))
            for r in rows
        ]

    def count_runs(self) -> int:
        """How many runs the store holds."""
        return int(self._read(lambda con: con.execute(
            sa.select(sa.func.count()).select_from(runs)).scalar_one()))

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

    def import_runs(self, runs_in: Sequence[tuple[RunRecord, str]], *,
                    skip_existing: bool = False) -> list[str | None]:
        """Store runs (each with the file it came from) in one transaction: all of them or,
        on a refusal, none. Returns each id, or None for a run skipped with
        ``skip_existing`` (already stored, or an earlier one of ``runs_in`` has its id).

        A run already stored is recognised by its content hash: the refusal says whether the
        stored one is the same run (imported before) or another under the same id."""
        first_source: dict[str, str] = {}
        for run, source in runs_in:
            if run.id in first_source and not skip_existing:
                raise UserError(f"{first_source[run.id]} and {source} both hold run {run.id}; "
                                "nothing imported (drop one, or use --skip-existing)")
            first_source.setdefault(run.id, source)
        hashes = [content_hash(run) for run, _ in runs_in]

        def insert(con: sa.Connection) -> list[str | None]:
            done: list[str | None] = []
            for (run, source), digest in zip(runs_in, hashes, strict=True):
                same = self._same_content(con, run.id, digest)
                if same is not None:
                    if skip_existing:
                        done.append(None)
                        continue
                    what = ("the same run, imported before" if same
                            else "a different run under the same id")
                    raise UserError(f"{source}: run {run.id} is already in {self.path} "
                                    f"({what}); nothing imported (use --skip-existing to "
                                    "ignore runs already there)")
                self._insert_run(con, run, content=digest)
                done.append(run.id)
            return done

        return self._write(insert, duplicate_again=True)

    def put_run(self, run: RunRecord, source: str) -> bool:
        """Store a finished run copied from the store ``source`` (push, pull); False where
        this store already holds it (the same content hash). Another run under its id is
        refused, and so is a run still running (it would read ``running`` here for ever)."""
        if run.status == "running":
            raise UserError(f"run {run.id} in {source} is still running; copy it when it has "
                            "finished")
        digest = content_hash(run)

        def put(con: sa.Connection) -> bool:
            same = self._same_content(con, run.id, digest)
            if same is None:
                self._insert_run(con, run, content=digest)
                return True
            if not same:
                raise UserError(f"run {run.id} of {source} is in {self.path} already, with "
                                "other content (another run under the same id); nothing "
                                "copied")
            return False

        return self._write(put, duplicate_again=True)

    def stored_hash(self, run_id: str) -> str:
        """The content hash of a stored run (as imported, or of its export document)."""
        return self._read(lambda con: self._hash_of(con, run_id))

    def case_count(self, run_id: str) -> int:
        """How many cases a run holds."""
        return int(self._read(lambda con: con.execute(
            sa.select(sa.func.count()).select_from(cases)
            .where(cases.c.run_id == run_id)).scalar_one()))

    def iter_case_rows(self) -> Iterator[dict[str, Any]]:
        """Every case with its run's light facts and its summary (traces not read)."""
        from greenbench.run_owner import shown_status

        query = (sa.select(runs.c.id, runs.c.created_utc, runs.c.hostname, runs.c.machine_key,
                           runs.c.label, runs.c.status, runs.c.is_estimate, cases.c.idx,
                           cases.c.workload, cases.c.status, cases.c.record, *self._owner())
                 .select_from(cases.join(runs, runs.c.id == cases.c.run_id))
                 .order_by(runs.c.created_utc, runs.c.seq, cases.c.idx))
        rows = self._read(lambda con: self._decoded("a case", con.execute(query).all))
        for row in rows:
            record = row[10]
            if not isinstance(record, dict) or not isinstance(record.get("params"), dict):
                raise self._damaged(f"run {row[0]} case {row[7]} cannot be decoded")
            yield {
                "run_id": row[0], "created_utc": row[1], "machine": row[2],
                "machine_key": row[3], "label": row[4],
                "run_status": shown_status(row[5], row[2], *row[11:]),
                "run_estimate": bool(row[6]), "case_index": row[7], "workload": row[8],
                # the record's parameters: in the order the workload gave them
                "params": record["params"], "status": row[9], "record": record,
            }

    # -- internals

    def _open_for_reading(self, con: sa.Connection) -> dict[str, set[str]]:
        if isinstance(self.path, ServerURL):
            if server.version(con, self.path, lock=False) == 0:
                raise UserError(f"no results store at {self.path}: nothing has been stored "
                                f"there yet (pass --store or set {STORE_ENV})")
            return server.present_columns(con)
        return sqlite_file.present_columns(con)

    def _migrate(self, con: sa.Connection, create: bool) -> None:
        """Bring the schema to SCHEMA_VERSION, inside the write lock (SQLite's, or the
        server's advisory lock), so that two processes opening a fresh store migrate it once.
        An empty database is made a store only with ``create`` (a file is checked before)."""
        if isinstance(self.path, ServerURL):
            found = server.version(con, self.path, lock=True)
            if found == 0 and not create:
                raise UserError(f"no results store at {self.path}: nothing has been stored "
                                f"there yet (pass --store or set {STORE_ENV})")
            if found < SCHEMA_VERSION:
                upgrade(con, found, stamped=found > 0)
            return
        found = sqlite_file.version(con, self.path)
        if found < SCHEMA_VERSION:
            has_alembic = con.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").first()
            upgrade(con, found, stamped=bool(has_alembic))
            sqlite_file.mark(con)

    def _insert_run(self, con: sa.Connection, run: RunRecord, *, pid: int | None = None,
                    pid_started: float | None = None, content: str | None = None) -> None:
        con.execute(runs.insert().values({**run_values(run), "pid": pid,
                                          "pid_started": pid_started, "content_hash": content}))
        for index, case in enumerate(run.cases):
            con.execute(cases.insert().values(case_values(run.id, index, case)))

    def _same_content(self, con: sa.Connection, run_id: str, digest: str) -> bool | None:
        """None when no run ``run_id`` is stored; else whether it has content hash ``digest``."""
        if con.execute(sa.select(runs.c.seq).where(runs.c.id == run_id)).first() is None:
            return None
        return self._hash_of(con, run_id) == digest

    def _hash_of(self, con: sa.Connection, run_id: str) -> str:
        """The stored hash, else that of the run's export (its status as shown: ``died``)."""
        from greenbench.run_owner import shown_status

        stored = con.execute(sa.select(self._column("content_hash"))
                             .where(runs.c.id == run_id)).scalar()
        if stored:
            return str(stored)
        run, owner = self._stored_run(con, run_id)
        run.status = shown_status(run.status, *owner)
        return content_hash(run)

    def _stored_run(self, con: sa.Connection, run_id: str
                    ) -> tuple[RunRecord, tuple[Any, ...]]:
        """The run as stored (its status not judged) and (hostname, pid, pid_started)."""
        query = sa.select(*(self._column(c) for c in (
            "id", "created_utc", "status", "machine", "software", "config", "sensors",
            "footprint", "label", "job", "extra", "hostname", "pid", "pid_started"))) \
            .where(runs.c.id == run_id)

        def read() -> tuple[RunRecord, tuple[Any, ...]]:
            # the JSON is decoded as the rows are fetched: damage shows here
            row = con.execute(query).first()
            if row is None:
                raise UserError(self._unknown_message(run_id, con))
            case_rows = list(con.execute(sa.select(cases.c.record, cases.c.trace)
                                         .where(cases.c.run_id == run_id)
                                         .order_by(cases.c.idx)).all())
            return run_from_row(row, case_rows), (row.hostname, row.pid, row.pid_started)

        return self._decoded(f"run {run_id}", read)

    def _column(self, name: str) -> Any:
        """A ``runs`` column, or NULL under its name in a store of an older schema opened
        read-only (never migrated, so without it)."""
        if self._columns is None or name in self._columns["runs"]:
            return runs.c[name]
        return sa.null().label(name)

    def _owner(self) -> list[Any]:
        return [self._column("pid"), self._column("pid_started")]

    def _decoded(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)``, decoding stored JSON/zlib content; damage is reported as a corrupt
        store."""
        try:
            return fn(*args)
        except (ValueError, TypeError, KeyError, AttributeError, zlib.error) as exc:
            # ValueError covers json.JSONDecodeError and UnicodeDecodeError.
            raise self._damaged(f"{what} cannot be decoded: {type(exc).__name__}") from None

    def _damaged(self, why: str) -> UserError:
        if isinstance(self.path, ServerURL):
            return UserError(f"results store {self.path} holds a damaged record ({why}); "
                             "left untouched: delete that run or ask the database's owner")
        return sqlite_file.corrupt(self.path, why)

    def _nth_latest(self, ref: str) -> str:
        back = ref[len("latest~"):] if "~" in ref else "0"
        if not back.isdigit():
            raise UserError(f"run {ref!r}: use latest, or latest~N with N a number (latest~1 "
                            "is the run before the latest)")
        n = int(back)
        found = self._read(lambda con: con.execute(
            sa.select(runs.c.id).order_by(*_newest_first()).limit(1).offset(n)).scalar())
        if found is None:
            total = self.count_runs()
            if total == 0:
                raise UserError(f"no runs in {self.path} yet: run `greenbench run` first, or "
                                "pass --store PATH")
            raise UserError(f"run {ref!r}: {self.path} holds only {total} run(s)")
        return str(found)

    def _unknown_message(self, ref: str, con: sa.Connection | None) -> str:
        """"No such run", with the latest ids; ``con`` when called inside a transaction."""
        query = sa.select(runs.c.id).order_by(*_newest_first()).limit(LATEST_SHOWN)

        def latest_ids(c: sa.Connection) -> list[str]:
            return list(c.execute(query).scalars())

        latest = latest_ids(con) if con is not None else self._read(latest_ids)
        if not latest:
            return f"no run {ref!r}: {self.path} holds no runs yet"
        return (f"no run {ref!r} in {self.path}; latest: {', '.join(latest)} "
                "(see `greenbench results list`)")

    def _require(self, con: sa.Connection, run_id: str) -> None:
        if con.execute(sa.select(runs.c.seq).where(runs.c.id == run_id)).first() is None:
            raise UserError(self._unknown_message(run_id, con))

    def _write(self, fn: Callable[[sa.Connection], _T], duplicate_again: bool = False) -> _T:
        """Run ``fn`` in one short write transaction, retrying while another writer holds the
        lock (SQLite) or the connection was dropped (a server). ``duplicate_again``: a unique
        key taken by another writer at the same moment runs ``fn`` once more (it then sees
        that writer's row)."""
        try:
            return self._transaction(fn, write=True)
        except sa_exc.IntegrityError:
            if not duplicate_again:
                raise
            return self._transaction(fn, write=True)

    def _read(self, fn: Callable[[sa.Connection], _T]) -> _T:
        # One transaction: a consistent snapshot of runs and cases together.
        return self._transaction(fn, write=False)

    def _transaction(self, fn: Callable[[sa.Connection], _T], *, write: bool,
                     attempts: int | None = None) -> _T:
        def once() -> _T:
            with self._engine.connect() as con:
                if isinstance(self.path, ServerURL):
                    con.execution_options(**({"isolation_level": "READ COMMITTED"} if write
                                             else {"isolation_level": "REPEATABLE READ",
                                                   "postgresql_readonly": True}))
                else:
                    con.execution_options(greenbench_write=write)
                with con.begin():
                    return fn(con)

        if isinstance(self.path, ServerURL):
            return server.retry(self.path, once,
                                **({} if attempts is None else {"attempts": attempts}))
        return sqlite_file.retry(self.path, once)


def _newest_first() -> tuple[Any, Any]:
    return runs.c.created_utc.desc(), runs.c.seq.desc()


def load_results(store: Store | str | Path | None = None) -> Any:
    """Every stored case as a table: a pandas DataFrame when pandas is installed, else a list
    of dicts.

    One row per case: ``run_id``, ``created_utc``, ``machine`` (host name), ``machine_key``,
    ``label``, ``run_status``, ``estimate``, ``case_index``, ``workload``, ``unit``, one column
    per parameter (``param_<name>`` where a name clashes with these), ``status`` (the case's),
    and the median of each metric (``energy_per_unit_j``, ``time_s``, ...).
    """
    with _as_store(store) as s:
        rows = [flat_case_row(r) for r in s.iter_case_rows()]
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows)


@contextmanager
def _as_store(store: Store | str | Path | None) -> Iterator[Store]:
    if isinstance(store, Store):
        yield store
        return
    with Store(store, readonly=True) as s:
        yield s
