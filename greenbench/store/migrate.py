"""Running the store's migrations (Alembic, greenbench/migrations) on an open transaction.

A store made before Alembic kept its version only in SQLite's ``user_version``: it is stamped
with the revision of that version first, then upgraded like any other, keeping every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from greenbench.store.schema import REVISIONS


def upgrade(con: Any, version: int, stamped: bool) -> None:
    """Upgrade the store on ``con`` (in the transaction that holds the write lock) from schema
    ``version`` to the newest; ``stamped``: Alembic's table already names ``version``."""
    from alembic import command
    from alembic.config import Config

    import greenbench.migrations

    config = Config()
    config.set_main_option("script_location", str(Path(greenbench.migrations.__file__).parent))
    config.attributes["connection"] = con
    if version and not stamped:
        command.stamp(config, REVISIONS[version])
    command.upgrade(config, "head")
