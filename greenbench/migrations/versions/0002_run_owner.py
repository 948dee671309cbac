"""Schema 2: the process writing a run (pid and start time), so that a run whose process is
gone reads "died" (greenbench.run_owner); NULL for runs stored before, or imported."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("pid", sa.Integer))
    # a Unix time: double precision (PostgreSQL's REAL would round it to a minute)
    op.add_column("runs", sa.Column("pid_started",
                                    sa.Double().with_variant(sa.REAL(), "sqlite")))
