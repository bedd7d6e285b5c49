"""The champion's quality on each labelled batch it was not trained on.

One row per (model version, publish commit of the batch): the metrics of the promotion
holdout with bootstrap intervals, on the batch's labelled rows. Late labels for a batch
update its row. Databases before this revision scored no batch, so the table starts empty.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "monitoring_batch_quality"
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``monitoring_batch_quality``."""
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(255), nullable=False),
        sa.Column("batch_commit", sa.String(255), nullable=False),
        sa.Column("labels_commit", sa.String(255), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("labelled_rows", sa.Integer(), nullable=False),
        sa.Column("metrics", JSON_DOCUMENT, nullable=False),
        sa.Column("scored_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
        sa.ForeignKeyConstraint(["model_id"], ["registry_models.id"], name=f"fk_{TABLE}_model_id"),
        sa.ForeignKeyConstraint(
            ["model_id", "version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
            name=f"fk_{TABLE}_model_id_version",
        ),
        sa.UniqueConstraint(
            "model_id", "version", "batch_commit", name=f"uq_{TABLE}_model_id_version_batch_commit"
        ),
    )


def downgrade() -> None:
    """Drop ``monitoring_batch_quality`` and the scores it kept."""
    op.drop_table(TABLE)
