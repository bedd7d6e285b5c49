"""Versions record whether they were trained on data not on main (an explicit override).

Versions registered before this revision trained on whatever ref they were given; they
are marked as published data, as the registry has no way to tell otherwise.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "registry_model_versions"


def upgrade() -> None:
    """Add ``unpublished_data`` (false for every existing version)."""
    op.add_column(
        TABLE,
        sa.Column("unpublished_data", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    """Drop ``unpublished_data``."""
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("unpublished_data")
