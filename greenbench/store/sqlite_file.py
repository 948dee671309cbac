"""The SQLite side of the store: the file checks made before SQLite may write, connections,
and SQLite's errors told apart.

A file that is not a healthy greenbench store is refused *before* SQLite opens it for writing,
so a corrupt or foreign file is never "repaired" or overwritten. The check goes through SQLite
itself (a read-only connection, which reads the ``-wal`` file too, then ``PRAGMA quick_check``):
after a checkpoint cut short by a full disk, the main file alone looks truncated while SQLite
reads every run intact from it and its ``-wal``. The three files are one store; messages never
suggest moving one of them alone.

The schema version is in ``PRAGMA user_version`` (beside Alembic's table, so that an older
greenbench refuses a newer store) and ``PRAGMA application_id`` marks the file as a greenbench
store. Writers take the lock up front (``BEGIN IMMEDIATE``: two writers queue instead of
dead-locking on a lock upgrade), with a busy timeout and a retry on top; WAL mode lets readers
read while one writes.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from greenbench.errors import UserError
from greenbench.store.location import STORE_ENV
from greenbench.store.schema import SCHEMA_VERSION, expected_columns

APPLICATION_ID = 0x67626E63  # "gbnc": tells a greenbench store from any other SQLite file
BUSY_TIMEOUT_S = 30.0
WRITE_RETRIES = 5

_T = TypeVar("_T")


def check_existing_file(path: Path, create: bool, readonly: bool) -> None:
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
        con = connect_readonly(path)
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
                raise corrupt(path, str(problem))
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise UserError(f"results store {path} stayed locked by another process for over "
                            f"{BUSY_TIMEOUT_S:.0f} s; try again when it has finished") from None
        if "decode" in str(exc).lower():  # the schema's text is not UTF-8: damage
            raise corrupt(path, str(exc).split(" with text ")[0]) from None
        raise _unreadable(path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise corrupt(path, str(exc)) from None
    except UnicodeDecodeError:  # the schema's own text is damaged
        raise corrupt(path, "its schema is not valid UTF-8") from None
    finally:
        con.close()
    if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
        raise newer(path, version)
    if app_id != APPLICATION_ID and (tables or version) and not foreign_later:
        raise _foreign(path)
    if app_id == APPLICATION_ID and version == 0:
        # The first migration sets the version and the application id together: marked but
        # unversioned is nobody's store. (An older version is migrated by migrate.)
        raise _wrong_schema(path, "schema version 0")
    return app_id != APPLICATION_ID


def _check_schema(con: sqlite3.Connection, path: Path, version: int) -> None:
    """The tables and columns of schema ``version``: a file marked as ours with other tables
    is refused, never queried into a traceback or "migrated"."""
    for table, columns in expected_columns(version).items():
        found = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
        missing = sorted(columns - found)
        if not found:
            raise _wrong_schema(path, f"no table {table!r}")
        if missing:
            raise _wrong_schema(path, f"table {table!r} lacks {', '.join(missing)}")


def newer(path: Path | str, version: int) -> UserError:
    return UserError(f"results store {path} was written by a newer greenbench (schema "
                     f"{version} > {SCHEMA_VERSION}): upgrade greenbench or use another "
                     "--store")


def corrupt(path: Path, why: str) -> UserError:
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
        return corrupt(path, text)
    return UserError(f"results store {path} cannot be read: {text}")


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection that still sees the ``-wal`` file. Where the folder is read-only
    and there is no ``-wal`` (nothing outside the file), ``immutable=1`` spares SQLite the
    ``-shm`` file it could not create."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not os.access(path.parent, os.W_OK) and not wal.exists():
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)


def open_readonly(path: Path) -> sqlite3.Connection:
    try:
        return connect_readonly(path)
    except sqlite3.Error as exc:
        raise _unreadable(path, exc) from None


def open_writable(path: Path) -> sqlite3.Connection:
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, to choose BEGIN IMMEDIATE.
        con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise UserError(f"cannot open results store {path}: {exc}") from None
    try:
        retry(path, lambda: con.execute("PRAGMA journal_mode=WAL").fetchone())
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




def version(con: Any, path: Path) -> int:
    """The schema version of an open store (``con``: an SQLAlchemy connection in the write
    transaction); a foreign file or a newer schema is refused. Decided under the write lock,
    so that two processes that open a fresh store at once migrate it once (and tell a foreign
    file from a store the other one is creating)."""
    found = con.exec_driver_sql("PRAGMA user_version").scalar()
    app_id = con.exec_driver_sql("PRAGMA application_id").scalar()
    if app_id != APPLICATION_ID and (found or con.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' LIMIT 1").first()):
        raise _foreign(path)
    if found > SCHEMA_VERSION:
        raise newer(path, found)
    return int(found)


def mark(con: Any) -> None:
    """Set the schema version and the application id, after a migration."""
    con.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
    con.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")


def present_columns(con: Any) -> dict[str, set[str]]:
    """The columns each table has (a store of an older schema opened read-only lacks some)."""
    return {table: {r[1] for r in con.exec_driver_sql(f'PRAGMA table_info("{table}")')}
            for table in ("runs", "cases")}


def retry(path: Path, fn: Callable[[], _T]) -> _T:
    """Call ``fn``, retrying with back-off while the database is locked by another process;
    SQLite's errors (bare, or wrapped by SQLAlchemy) become one-line UserErrors where the user
    can act on them."""
    for attempt in range(WRITE_RETRIES):
        try:
            return fn()
        except Exception as wrapped:
            exc = getattr(wrapped, "orig", None) or wrapped
            if isinstance(exc, sqlite3.OperationalError):
                if "decode" in str(exc).lower():  # a text column that is not UTF-8: damage
                    raise corrupt(path, str(exc).split(" with text ")[0]) from None
                if _is_environmental(exc):
                    raise UserError(f"results store {path}: {exc}; pass another --store PATH "
                                    "or free the disk") from None
                if not is_busy(exc):
                    raise
                if attempt == WRITE_RETRIES - 1:
                    break
                time.sleep(0.05 * 2**attempt)
            elif isinstance(exc, sqlite3.IntegrityError):
                raise
            elif isinstance(exc, sqlite3.DatabaseError):  # "not a database", "malformed"
                raise corrupt(path, str(exc)) from None
            elif isinstance(exc, UnicodeDecodeError):
                raise corrupt(path, "stored text is not valid UTF-8") from None
            else:
                raise
    raise UserError(f"results store {path} stayed locked by another process for over "
                    f"{BUSY_TIMEOUT_S:.0f} s; try again when it has finished")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_environmental(exc: sqlite3.OperationalError) -> bool:
    """Errors of the file system around the store, not of greenbench: the user can fix them."""
    text = str(exc).lower()
    return any(w in text for w in ("readonly", "read-only", "disk", "unable to open", "full"))


def engine(path: Path, readonly: bool, **options: Any) -> Any:
    """An SQLAlchemy engine over our own connections (read-only, or WAL for writing) that
    begins each transaction as the Store asks: ``BEGIN IMMEDIATE`` to write, ``BEGIN`` (one
    consistent snapshot) to read."""
    import sqlalchemy as sa

    connect = (lambda: open_readonly(path)) if readonly else (lambda: open_writable(path))
    made = sa.create_engine("sqlite://", creator=connect, **options)

    @sa.event.listens_for(made, "begin")
    def begin(conn: Any) -> None:
        writing = conn.get_execution_options().get("greenbench_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return made
