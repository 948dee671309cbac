"""Schema 4: a run's content hash (sha256 of its export document, unique: a run imported twice
is recognised) and ``extra``, the RunRecord fields without a column of their own (a new field
needs no new schema)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("content_hash", sa.Text))
    op.add_column("runs", sa.Column("extra", sa.JSON()))
    op.create_index("runs_by_content", "runs", ["content_hash"], unique=True)
