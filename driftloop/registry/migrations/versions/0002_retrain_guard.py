"""The retrain guards' state, until now created by the guards themselves beside the registry.

Databases in the field may already hold the table, with rows: the guards created it
with ``create_all`` on first use. This revision adopts such a table as it is (same
columns, types and constraints as below) and creates it only where it is missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "monitoring_retrain_guard"
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the retrain guards' table unless the guards of an older release already did."""
    # Looks in the connection's default schema (PostgreSQL's search_path), where the
    # guards' create_all put it; creating it again would fail, dropping it would lose state.
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return
    op.create_table(
        TABLE,
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("last_trigger_at", TIMESTAMP, nullable=True),
        sa.Column("last_trigger_key", sa.String(1024), nullable=True),
        sa.Column("last_signature", sa.String(255), nullable=True),
        sa.Column("recent_triggers", sa.JSON(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("breaker_open_since", TIMESTAMP, nullable=True),
        sa.Column("last_outcome_key", sa.String(1024), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("scope", name=f"pk_{TABLE}"),
    )


def downgrade() -> None:
    """Drop the retrain guards' table (and their state)."""
    op.drop_table(TABLE)
