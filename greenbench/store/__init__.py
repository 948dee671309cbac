"""The results store: every run and case in an SQLite file or a PostgreSQL database.

Where: ``--store PATH`` or ``--store postgresql://user@host/db``, else ``$GREENBENCH_STORE``,
else ``results/greenbench.sqlite`` under the current directory (:func:`store_path`).

- greenbench.store.location: where the store is, and a server's password kept out of text;
- greenbench.store.schema: the tables (SQLAlchemy Core), the same on both backends;
- greenbench.store.database: :class:`Store` and :func:`load_results`;
- greenbench.store.sqlite_file and .server: what differs between SQLite and PostgreSQL;
- greenbench.store.migrate with greenbench/migrations: the schema's migrations (Alembic).

The database parts (and SQLAlchemy) load on first use, so that the settings and
``greenbench --help`` need only the location.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenbench.store.location import DEFAULT_STORE, STORE_ENV, ServerURL, store_path

if TYPE_CHECKING:
    from greenbench.store.database import RunSummary, Store, load_results
    from greenbench.store.schema import SCHEMA_VERSION
    from greenbench.store.sqlite_file import APPLICATION_ID

__all__ = ["APPLICATION_ID", "DEFAULT_STORE", "SCHEMA_VERSION", "STORE_ENV", "RunSummary",
           "ServerURL", "Store", "load_results", "store_path"]

_LAZY = {"Store": "database", "RunSummary": "database", "load_results": "database",
         "SCHEMA_VERSION": "schema", "APPLICATION_ID": "sqlite_file"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"greenbench.store.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'greenbench.store' has no attribute {name!r}")
