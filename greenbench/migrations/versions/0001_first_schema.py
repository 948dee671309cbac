"""Schema 1: runs (light columns and the RunRecord's JSON) and cases (keyed by run and index,
the CaseRecord's JSON and its compressed power trace)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    document = sa.JSON()
    op.create_table(
        "runs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("created_utc", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("label", sa.Text),
        sa.Column("hostname", sa.Text),
        sa.Column("machine_key", sa.Text, nullable=False),
        sa.Column("is_estimate", sa.Integer, nullable=False),
        sa.Column("machine", document, nullable=False),
        sa.Column("software", document, nullable=False),
        sa.Column("config", document, nullable=False),
        sa.Column("sensors", document, nullable=False),
        sa.Column("footprint", document),
    )
    op.create_index("runs_by_time", "runs", ["created_utc", "seq"])
    op.create_table(
        "cases",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("workload", sa.Text, nullable=False),
        sa.Column("params", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("record", document, nullable=False),
        sa.Column("trace", sa.LargeBinary),
    )
