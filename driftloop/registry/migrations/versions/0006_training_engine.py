"""Versions record where they trained: the engine (local or dask) and how many workers.

Versions registered before this revision all trained in one process: they are marked
``local`` with one worker.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "registry_model_versions"


def upgrade() -> None:
    """Add ``engine`` (``local`` for every existing version) and ``workers`` (1)."""
    op.add_column(TABLE, sa.Column("engine", sa.String(16), nullable=False, server_default="local"))
    op.add_column(TABLE, sa.Column("workers", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Drop ``engine`` and ``workers``."""
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("workers")
        batch.drop_column("engine")
