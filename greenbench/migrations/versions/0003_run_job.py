"""Schema 3: the distributed job of a multi-host run (RunRecord.job, JSON); NULL on one host."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("job", sa.JSON()))
