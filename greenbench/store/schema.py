"""The store's tables, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

The migrations (greenbench/migrations, Alembic) build exactly these tables; each column says in
``info["since"]`` the schema version that added it, so that a store of an older schema opened
read-only (never migrated) is read without the columns it lacks, and a damaged file is told
from an old one.

JSON columns are JSON text on SQLite. On PostgreSQL they are ``json``, which keeps a document
as written (object keys in their order: a case's parameters are shown in the order the
workload gave them, and a run pushed and pulled back exports the same bytes), except
``cases.params``, the one column queried by value (which cases ran with ``batch=16``), which is
``jsonb``. A run's RunRecord fields that have no column of their own are kept in ``runs.extra``,
so a new RunRecord field needs no new schema.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

SCHEMA_VERSION = 4
#: Alembic's revision id of each schema version (greenbench/migrations/versions)
REVISIONS = {version: f"{version:04d}" for version in range(1, SCHEMA_VERSION + 1)}

#: JSON as written (keys keep their order) on both backends
DOCUMENT = sa.JSON(none_as_null=True)


class Queried(sa.types.TypeDecorator[Any]):
    """JSON queried by value: jsonb on PostgreSQL (chosen when a dialect asks, so that an
    SQLite user's command never imports the PostgreSQL dialect)."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(sa.JSON(none_as_null=True))


QUERIED = Queried()

#: a Unix time: double precision (PostgreSQL's REAL, 4 bytes, would round it to a minute)
TIME: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")

metadata = sa.MetaData()


def _since(version: int) -> dict[str, int]:
    return {"since": version}


runs = sa.Table(
    "runs", metadata,
    # insertion order: breaks ties in created_utc
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True, info=_since(1)),
    sa.Column("id", sa.Text, nullable=False, unique=True, info=_since(1)),
    sa.Column("created_utc", sa.Text, nullable=False, info=_since(1)),
    sa.Column("status", sa.Text, nullable=False, info=_since(1)),
    sa.Column("label", sa.Text, info=_since(1)),
    sa.Column("hostname", sa.Text, info=_since(1)),
    sa.Column("machine_key", sa.Text, nullable=False, info=_since(1)),
    sa.Column("is_estimate", sa.Integer, nullable=False, info=_since(1)),
    sa.Column("machine", DOCUMENT, nullable=False, info=_since(1)),
    sa.Column("software", DOCUMENT, nullable=False, info=_since(1)),
    sa.Column("config", DOCUMENT, nullable=False, info=_since(1)),
    sa.Column("sensors", DOCUMENT, nullable=False, info=_since(1)),
    sa.Column("footprint", DOCUMENT, info=_since(1)),
    # the process writing a run (greenbench.run_owner); NULL for imported runs
    sa.Column("pid", sa.Integer, info=_since(2)),
    sa.Column("pid_started", TIME, info=_since(2)),
    # the distributed job of a multi-host run; NULL on one host
    sa.Column("job", DOCUMENT, info=_since(3)),
    # sha256 of the run's export document, where it came as one (import, push, pull)
    sa.Column("content_hash", sa.Text, info=_since(4)),
    # the RunRecord fields without a column of their own
    sa.Column("extra", DOCUMENT, info=_since(4)),
)
sa.Index("runs_by_time", runs.c.created_utc, runs.c.seq)
sa.Index("runs_by_content", runs.c.content_hash, unique=True)

cases = sa.Table(
    "cases", metadata,
    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True,
              info=_since(1)),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False, info=_since(1)),
    sa.Column("workload", sa.Text, nullable=False, info=_since(1)),
    sa.Column("params", QUERIED, nullable=False, info=_since(1)),
    sa.Column("status", sa.Text, nullable=False, info=_since(1)),
    # the CaseRecord without its trace
    sa.Column("record", DOCUMENT, nullable=False, info=_since(1)),
    # the power trace: zlib-compressed JSON
    sa.Column("trace", sa.LargeBinary, info=_since(1)),
)

#: RunRecord fields with a column of their own (the rest go to ``extra``)
RUN_COLUMNS = ("id", "created_utc", "status", "label", "machine", "software", "config",
               "sensors", "footprint", "job")


def expected_columns(version: int) -> dict[str, frozenset[str]]:
    """The columns of every table in schema ``version``."""
    return {table.name: frozenset(c.name for c in table.columns if c.info["since"] <= version)
            for table in metadata.sorted_tables}
