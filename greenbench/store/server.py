"""The PostgreSQL side of the store: the engine (psycopg 3), the schema version Alembic keeps
in the database, and the server's errors as one line without a password.

Many writers from many machines: each run goes in with its cases in one transaction (a reader
sees all of it or none), a reader takes one snapshot (REPEATABLE READ), and a migration holds a
transaction-scoped advisory lock, so that two hosts opening a fresh database migrate it once.
A connection the server dropped is replaced and the transaction run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from greenbench.errors import UserError
from greenbench.store.location import CONNECT_TIMEOUT_S, ServerURL
from greenbench.store.schema import SCHEMA_VERSION

#: pg_advisory_xact_lock's key for migrating ("gbnc", as SQLite's application id)
MIGRATION_LOCK = 0x67626E63
RETRIES = 4

_T = TypeVar("_T")


def engine(url: ServerURL, **options: Any) -> Any:
    """An engine for the store at ``url``; psycopg missing is one line naming the extra."""
    import sqlalchemy as sa

    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise UserError("a PostgreSQL store needs psycopg: pip install "
                        "'greenbench[postgres]'") from None
    return sa.create_engine(
        url.sqlalchemy_url(), pool_pre_ping=True, pool_size=1, max_overflow=2,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "greenbench"},
        **options)


def version(con: Any, url: ServerURL, lock: bool) -> int:
    """The schema version of the database (0: nothing stored yet); a newer one is refused.
    With ``lock``, first take the migration lock for the rest of the transaction."""
    if lock:
        con.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    has_table = con.exec_driver_sql(
        "SELECT to_regclass('alembic_version') IS NOT NULL").scalar()
    found = con.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() \
        if has_table else None
    if found is None:
        if con.exec_driver_sql("SELECT to_regclass('runs') IS NOT NULL").scalar():
            raise UserError(f"database {url} has a table 'runs' but is not a greenbench "
                            "results store; pass another --store")
        return 0
    number = int(found) if str(found).isdigit() else None
    if number is None:
        raise UserError(f"database {url} holds another program's Alembic schema ({found}); "
                        "pass another --store")
    if number > SCHEMA_VERSION:
        raise UserError(f"results store {url} was written by a newer greenbench (schema "
                        f"{number} > {SCHEMA_VERSION}): upgrade greenbench or use another "
                        "--store")
    return number


def present_columns(con: Any) -> dict[str, set[str]]:
    rows = con.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name IN ('runs', 'cases')").all()
    found: dict[str, set[str]] = {"runs": set(), "cases": set()}
    for table, column in rows:
        found[table].add(column)
    return found


def retry(url: ServerURL, fn: Callable[[], _T], attempts: int = RETRIES) -> _T:
    """Call ``fn`` (one transaction), again on a dropped connection or a serialization
    conflict; the server's other errors become one line, scrubbed of any password. The first
    transaction of a store is tried once (``attempts=1``): a server that cannot be reached
    says so within one connect timeout."""
    import sqlalchemy.exc as sa_exc

    for attempt in range(attempts):
        try:
            return fn()
        except sa_exc.IntegrityError:
            raise
        except sa_exc.DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            again = exc.connection_invalidated or code in ("40001", "40P01")
            if not again or attempt == attempts - 1:
                raise server_error(url, exc) from None
            time.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


def server_error(url: ServerURL, exc: BaseException) -> UserError:
    """One line for a failure of the server or the connection to it, without any password."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    why = url.scrub(" ".join(lines[:2]) or type(orig).__name__)
    if len(why) > 240:
        why = why[:239] + "…"
    text = why.lower()
    if "password authentication failed" in text or "no password supplied" in text:
        hint = ("check the user and password (in the URL, PGPASSWORD, PGPASSFILE or "
                "$GREENBENCH_STORE_PASSWORD_FILE)")
    elif "does not exist" in text and "database" in text:
        hint = "create the database first (createdb), or name another one"
    elif any(w in text for w in ("timeout", "timed out", "refused", "could not connect",
                                 "connection", "resolve", "translate host")):
        hint = f"check that the server is running and reachable (waited up to " \
               f"{CONNECT_TIMEOUT_S} s)"
    else:
        hint = "nothing was changed there by this transaction"
    return UserError(f"results store {url}: {why}; {hint}")
