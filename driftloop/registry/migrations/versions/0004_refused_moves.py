"""Alias moves refused by compare-and-swap are recorded, beside the moves that happened.

A move carries the version its caller saw (``expected``); when the alias points elsewhere
nothing moves, and the refusal is appended here. Databases before this revision kept no
record of refusals, so the table starts empty.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "registry_refused_moves"
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
VERSIONS_KEY = ["registry_model_versions.model_id", "registry_model_versions.version"]


def upgrade() -> None:
    """Create ``registry_refused_moves``."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("expected_version", sa.Integer(), nullable=True),
        sa.Column("actual_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", JSON_DOCUMENT, nullable=False),
        sa.Column("run_key", sa.String(1024), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
        sa.ForeignKeyConstraint(["model_id"], ["registry_models.id"], name=f"fk_{TABLE}_model_id"),
        sa.ForeignKeyConstraint(
            ["model_id", "actual_version"], VERSIONS_KEY, name=f"fk_{TABLE}_model_id_actual_version"
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "to_version"], VERSIONS_KEY, name=f"fk_{TABLE}_model_id_to_version"
        ),
        sa.UniqueConstraint(
            "model_id", "alias", "run_key", name=f"uq_{TABLE}_model_id_alias_run_key"
        ),
    )


def downgrade() -> None:
    """Drop ``registry_refused_moves`` and the refusals it recorded."""
    op.drop_table(TABLE)
