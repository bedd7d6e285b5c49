"""The tables of the registry's database (SQLAlchemy 2, typed). Callers never see these rows.

Every registry table is prefixed ``registry_`` (and Alembic's version table too) so the
registry can share a database with other applications without name clashes. The retrain
guards keep their state beside them, in ``monitoring_retrain_guard``, under the same
migrations. The registry hands out the immutable records of ``records``, never rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAME_LENGTH = 255
ALIAS_LENGTH = 64
RUN_KEY_LENGTH = 1024

# Deterministic constraint names, so migrations can refer to them on every dialect.
NAMING_CONVENTION = {
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

# A missing optional document is SQL NULL, not the JSON value null.
JSON_DOCUMENT = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every dialect (SQLite would drop the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; naive on SQLite, which keeps no offset."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive timestamp {value!r}: registry timestamps must be aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC timestamp."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention and the column type map."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dict[str, Any]: JSON_DOCUMENT,
        datetime: UTCDateTime(),
    }


class ModelRow(Base):
    """A registered model."""

    __tablename__ = "registry_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class VersionRow(Base):
    """One version of a model with its lineage."""

    __tablename__ = "registry_model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        UniqueConstraint("model_id", "run_key"),
        CheckConstraint("status IN ('registered', 'archived')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"))
    version: Mapped[int]
    run_key: Mapped[str] = mapped_column(String(RUN_KEY_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    data_commit: Mapped[str] = mapped_column(String(NAME_LENGTH))
    data_ref: Mapped[str] = mapped_column(String(NAME_LENGTH))
    unpublished_data: Mapped[bool] = mapped_column(server_default=false())
    engine: Mapped[str] = mapped_column(String(16), server_default="local")
    workers: Mapped[int] = mapped_column(server_default="1")
    validation: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    holdout_metrics_champion: Mapped[dict[str, Any] | None]
    code_version: Mapped[str] = mapped_column(String(NAME_LENGTH))
    artifact_uri: Mapped[str] = mapped_column(Text)
    artifact_commit: Mapped[str] = mapped_column(String(NAME_LENGTH))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    feature_schema: Mapped[dict[str, Any]]
    reference_profile_uri: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime]


class AliasRow(Base):
    """Where an alias of a model points now: one row per (model, alias)."""

    __tablename__ = "registry_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
    )

    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(ALIAS_LENGTH), primary_key=True)
    version: Mapped[int]
    updated_at: Mapped[datetime]


class MoveRow(Base):
    """Append-only audit of alias moves; ``rollback_of`` names the move a rollback undid."""

    __tablename__ = "registry_alias_moves"
    __table_args__ = (
        UniqueConstraint("model_id", "alias", "run_key"),
        ForeignKeyConstraint(
            ["model_id", "from_version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
        ForeignKeyConstraint(
            ["model_id", "to_version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"))
    alias: Mapped[str] = mapped_column(String(ALIAS_LENGTH))
    from_version: Mapped[int | None]
    to_version: Mapped[int]
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    run_key: Mapped[str | None] = mapped_column(String(RUN_KEY_LENGTH))
    rollback_of: Mapped[int | None] = mapped_column(ForeignKey("registry_alias_moves.id"))
    at: Mapped[datetime]


class RefusedMoveRow(Base):
    """Append-only audit of alias moves refused because the alias was not where expected.

    ``expected_version`` has no foreign key: it is what the caller claims to have seen,
    and a refusal of a version that never existed is recorded all the same.
    """

    __tablename__ = "registry_refused_moves"
    __table_args__ = (
        UniqueConstraint("model_id", "alias", "run_key"),
        ForeignKeyConstraint(
            ["model_id", "actual_version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
        ForeignKeyConstraint(
            ["model_id", "to_version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"))
    alias: Mapped[str] = mapped_column(String(ALIAS_LENGTH))
    expected_version: Mapped[int | None]
    actual_version: Mapped[int | None]
    to_version: Mapped[int]
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    run_key: Mapped[str | None] = mapped_column(String(RUN_KEY_LENGTH))
    at: Mapped[datetime]


class DecisionRow(Base):
    """Append-only record of promotion decisions, whether or not an alias moved."""

    __tablename__ = "registry_decisions"
    __table_args__ = (
        UniqueConstraint("model_id", "run_key"),
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"))
    version: Mapped[int]
    promoted: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    actor: Mapped[str] = mapped_column(String(NAME_LENGTH))
    run_key: Mapped[str] = mapped_column(String(RUN_KEY_LENGTH))
    at: Mapped[datetime]


class BatchQualityRow(Base):
    """A model version's quality on one labelled batch it was not trained on.

    One row per (version, publish commit of the batch); late labels for the batch update it
    in place (``labels_commit``, ``labelled_rows``, ``metrics``, ``scored_at``).
    """

    __tablename__ = "monitoring_batch_quality"
    __table_args__ = (
        UniqueConstraint("model_id", "version", "batch_commit"),
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["registry_model_versions.model_id", "registry_model_versions.version"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registry_models.id"))
    version: Mapped[int]
    batch: Mapped[str] = mapped_column(String(NAME_LENGTH))
    batch_commit: Mapped[str] = mapped_column(String(NAME_LENGTH))
    labels_commit: Mapped[str] = mapped_column(String(NAME_LENGTH))
    rows: Mapped[int]
    labelled_rows: Mapped[int]
    metrics: Mapped[dict[str, Any]]
    scored_at: Mapped[datetime]


class RetrainGuardRow(Base):
    """The retrain guards' state of one model (see ``driftloop.monitoring.guards``)."""

    __tablename__ = "monitoring_retrain_guard"

    scope: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    last_trigger_at: Mapped[datetime | None]
    last_trigger_key: Mapped[str | None] = mapped_column(String(RUN_KEY_LENGTH))
    last_signature: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    # Plain JSON (not JSONB on PostgreSQL), as the guards created it before migration 0002
    # adopted the table: existing databases keep that column type.
    recent_triggers: Mapped[list[str]] = mapped_column(JSON)
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    breaker_open_since: Mapped[datetime | None]
    last_outcome_key: Mapped[str | None] = mapped_column(String(RUN_KEY_LENGTH))
    updated_at: Mapped[datetime]
