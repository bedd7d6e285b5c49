"""Registered models, versions with lineage, aliases, alias audit log, promotion decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
VERSIONS_KEY = ["registry_model_versions.model_id", "registry_model_versions.version"]


def upgrade() -> None:
    """Create the registry's tables."""
    op.create_table(
        "registry_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_models"),
        sa.UniqueConstraint("name", name="uq_registry_models_name"),
    )
    op.create_table(
        "registry_model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("data_commit", sa.String(255), nullable=False),
        sa.Column("data_ref", sa.String(255), nullable=False),
        sa.Column("validation", JSON_DOCUMENT, nullable=False),
        sa.Column("params", JSON_DOCUMENT, nullable=False),
        sa.Column("metrics", JSON_DOCUMENT, nullable=False),
        sa.Column("holdout_metrics_champion", JSON_DOCUMENT, nullable=True),
        sa.Column("code_version", sa.String(255), nullable=False),
        sa.Column("artifact_uri", sa.Text(), nullable=False),
        sa.Column("artifact_commit", sa.String(255), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("feature_schema", JSON_DOCUMENT, nullable=False),
        sa.Column("reference_profile_uri", sa.Text(), nullable=True),
        sa.Column("tags", JSON_DOCUMENT, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_model_versions"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registry_models.id"], name="fk_registry_model_versions_model_id"
        ),
        sa.UniqueConstraint(
            "model_id", "version", name="uq_registry_model_versions_model_id_version"
        ),
        sa.UniqueConstraint(
            "model_id", "run_key", name="uq_registry_model_versions_model_id_run_key"
        ),
        sa.CheckConstraint(
            "status IN ('registered', 'archived')", name="ck_registry_model_versions_status"
        ),
    )
    op.create_table(
        "registry_aliases",
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("model_id", "alias", name="pk_registry_aliases"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registry_models.id"], name="fk_registry_aliases_model_id"
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "version"], VERSIONS_KEY, name="fk_registry_aliases_model_id_version"
        ),
    )
    op.create_table(
        "registry_alias_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", JSON_DOCUMENT, nullable=False),
        sa.Column("run_key", sa.String(1024), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_alias_moves"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registry_models.id"], name="fk_registry_alias_moves_model_id"
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "from_version"],
            VERSIONS_KEY,
            name="fk_registry_alias_moves_model_id_from_version",
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "to_version"],
            VERSIONS_KEY,
            name="fk_registry_alias_moves_model_id_to_version",
        ),
        sa.ForeignKeyConstraint(
            ["rollback_of"],
            ["registry_alias_moves.id"],
            name="fk_registry_alias_moves_rollback_of",
        ),
        sa.UniqueConstraint(
            "model_id", "alias", "run_key", name="uq_registry_alias_moves_model_id_alias_run_key"
        ),
    )
    op.create_table(
        "registry_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", JSON_DOCUMENT, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("run_key", sa.String(1024), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_decisions"),
        sa.ForeignKeyConstraint(
            ["model_id"], ["registry_models.id"], name="fk_registry_decisions_model_id"
        ),
        sa.ForeignKeyConstraint(
            ["model_id", "version"], VERSIONS_KEY, name="fk_registry_decisions_model_id_version"
        ),
        sa.UniqueConstraint("model_id", "run_key", name="uq_registry_decisions_model_id_run_key"),
    )


def downgrade() -> None:
    """Drop the registry's tables."""
    for table in (
        "registry_decisions",
        "registry_alias_moves",
        "registry_aliases",
        "registry_model_versions",
        "registry_models",
    ):
        op.drop_table(table)
