from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from driftloop.config.monitoring import GuardSettings
from driftloop.exceptions import AliasMoved, RegistryError, RegistryUnavailable
from driftloop.monitoring.guards import RetrainGuard
from driftloop.registry import Registry, VersionLineage
from driftloop.registry.database import VERSION_TABLE
from driftloop.registry.models import NAMING_CONVENTION, Base, UTCDateTime

GUARD_TABLE = "monitoring_retrain_guard"
TABLES = {
    "registry_models",
    "registry_model_versions",
    "registry_aliases",
    "registry_alias_moves",
    "registry_decisions",
    "registry_refused_moves",
    GUARD_TABLE,
    VERSION_TABLE,
}
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LATER_LINEAGE = {"engine", "workers"}
"""Lineage columns added after 0005 (migration 0006)."""


class _LegacyBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads this


class _LegacyGuardRow(_LegacyBase):
    """The guard table exactly as driftloop.monitoring.guards declared it before migration 0002."""

    __tablename__ = GUARD_TABLE

    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_trigger_at: Mapped[datetime | None]
    last_trigger_key: Mapped[str | None] = mapped_column(String(1024))
    last_signature: Mapped[str | None] = mapped_column(String(255))
    recent_triggers: Mapped[list[str]] = mapped_column(JSON)
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    breaker_open_since: Mapped[datetime | None]
    last_outcome_key: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime]


def _legacy_versions(
    connection: Connection, lineage: VersionLineage, *, runs: int, exclude: set[str]
) -> None:
    """Versions 1..runs of credit_risk as an older schema stored them (without ``exclude``)."""
    models = Table("registry_models", MetaData(), autoload_with=connection)
    versions = Table("registry_model_versions", MetaData(), autoload_with=connection)
    assert not exclude & set(versions.c.keys())
    connection.execute(insert(models).values(id=1, name="credit_risk", created_at=T0))
    for number in range(1, runs + 1):
        connection.execute(
            insert(versions).values(
                model_id=1,
                version=number,
                run_key=f"r{number}",
                status="registered",
                created_by="t",
                created_at=T0,
                **lineage.model_dump(exclude=exclude),
            )
        )


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@contextmanager
def _at_revision(db_url: str, alembic_config: Config, revision: str) -> Iterator[Connection]:
    """A connection to the database migrated to ``revision`` only, committed on exit."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, revision)
            yield connection
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_and_is_idempotent(
    db_url: str, head_revision: str, lineage: VersionLineage
) -> None:
    registry = Registry(url=db_url)
    assert registry.schema_revision() is None

    registry.upgrade()
    assert registry.schema_revision() == head_revision
    assert _tables(db_url) >= TABLES
    registry.register_version("credit_risk", run_key="r1", lineage=lineage, created_by="t")

    registry.upgrade()
    assert registry.schema_revision() == head_revision
    assert [v.version for v in registry.list_versions("credit_risk")] == [1]
    registry.close()


def _schema_drift(url: str) -> list[object]:
    """What autogenerate would change to make the database match the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_migrations_match_the_models(registry: Registry, db_url: str) -> None:
    assert _schema_drift(db_url) == []


def test_downgrade_removes_the_schema_and_upgrade_restores_it(
    registry: Registry, db_url: str, alembic_config: Config, head_revision: str
) -> None:
    engine = create_engine(db_url)
    with engine.begin() as connection:
        alembic_config.attributes["connection"] = connection
        command.downgrade(alembic_config, "base")
    engine.dispose()
    assert _tables(db_url) & TABLES <= {VERSION_TABLE}
    assert registry.schema_revision() is None

    registry.upgrade()
    assert registry.schema_revision() == head_revision
    assert registry.list_models() == []


def test_versions_registered_before_0003_load_as_trained_on_published_data(
    db_url: str, alembic_config: Config, head_revision: str, lineage: VersionLineage
) -> None:
    registry = Registry(url=db_url)  # creates the SQLite file's folder
    with _at_revision(db_url, alembic_config, "0002") as connection:
        _legacy_versions(connection, lineage, runs=1, exclude={"unpublished_data", *LATER_LINEAGE})
    old = lineage.model_dump(exclude={"unpublished_data", *LATER_LINEAGE})

    registry.upgrade()

    assert registry.schema_revision() == head_revision
    loaded = registry.get_version("credit_risk", 1)
    assert loaded.lineage.unpublished_data is False
    assert loaded.lineage.model_dump(exclude={"unpublished_data", *LATER_LINEAGE}) == old
    registry.close()


def test_versions_registered_before_0006_load_as_trained_locally_by_one_worker(
    db_url: str, alembic_config: Config, head_revision: str, lineage: VersionLineage
) -> None:
    registry = Registry(url=db_url)  # creates the SQLite file's folder
    with _at_revision(db_url, alembic_config, "0005") as connection:
        _legacy_versions(connection, lineage, runs=1, exclude=LATER_LINEAGE)
    dask = lineage.model_copy(update={"engine": "dask", "workers": 3, "artifact_sha256": "d" * 64})

    registry.upgrade()

    assert registry.schema_revision() == head_revision
    assert _schema_drift(db_url) == []
    old = registry.get_version("credit_risk", 1).lineage
    assert (old.engine, old.workers) == ("local", 1)
    assert old.model_dump(exclude=LATER_LINEAGE) == lineage.model_dump(exclude=LATER_LINEAGE)
    registry.register_version("credit_risk", run_key="r2", lineage=dask, created_by="t")
    new = registry.get_version("credit_risk", 2).lineage
    assert (new.engine, new.workers) == ("dask", 3)
    registry.close()


def test_upgrade_from_0003_adds_the_refused_moves_and_keeps_the_history(
    db_url: str, alembic_config: Config, head_revision: str, lineage: VersionLineage
) -> None:
    registry = Registry(url=db_url)  # creates the SQLite file's folder
    with _at_revision(db_url, alembic_config, "0003") as connection:
        _legacy_versions(connection, lineage, runs=2, exclude=LATER_LINEAGE)
        aliases = Table("registry_aliases", MetaData(), autoload_with=connection)
        moves = Table("registry_alias_moves", MetaData(), autoload_with=connection)
        champion = {"model_id": 1, "alias": "champion"}
        connection.execute(insert(aliases).values(**champion, version=1, updated_at=T0))
        connection.execute(
            insert(moves).values(
                **champion, to_version=1, actor="t", reason="first", evidence={}, at=T0
            )
        )
    assert "registry_refused_moves" not in _tables(db_url)

    registry.upgrade()

    assert registry.schema_revision() == head_revision
    assert "registry_refused_moves" in _tables(db_url)
    assert _schema_drift(db_url) == []
    assert registry.refused_moves("credit_risk") == []
    with pytest.raises(AliasMoved):
        registry.move_alias("credit_risk", "champion", 2, actor="t", reason="r", expected=None)
    assert [m.to_version for m in registry.audit_log("credit_risk")] == [1]
    assert [r.actual_version for r in registry.refused_moves("credit_risk")] == [1]
    registry.close()


def test_calls_before_upgrade_say_the_schema_is_missing(db_url: str) -> None:
    registry = Registry(url=db_url)
    with pytest.raises(RegistryError, match=r"schema is missing.*upgrade\(\)") as caught:
        registry.list_models()
    assert not isinstance(caught.value, RegistryUnavailable)
    registry.close()


@pytest.mark.parametrize("applied", ["0001", None], ids=["after-0001", "before-any-migration"])
def test_upgrade_keeps_the_guard_table_and_rows_the_guards_created_themselves(
    db_url: str, alembic_config: Config, head_revision: str, applied: str | None
) -> None:
    # A database from before 0002: the guards made their table with create_all, after
    # the registry's first migration or before the registry was ever migrated.
    registry = Registry(url=db_url)  # creates the SQLite file's folder
    engine = create_engine(db_url)
    with engine.begin() as connection:
        if applied is not None:
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, applied)
        _LegacyBase.metadata.create_all(connection)
        connection.execute(
            insert(_LegacyGuardRow).values(
                scope="credit_risk",
                last_trigger_at=T0,
                last_trigger_key="monitor-run-1",
                last_signature="sig-a",
                recent_triggers=[T0.isoformat()],
                consecutive_failures=1,
                breaker_open_since=None,
                last_outcome_key="train-run-1",
                updated_at=T0,
            )
        )
    assert registry.schema_revision() == applied

    registry.upgrade()

    assert registry.schema_revision() == head_revision
    assert _tables(db_url) >= TABLES
    assert _schema_drift(db_url) == []
    with engine.connect() as connection:
        rows = connection.execute(select(_LegacyGuardRow.scope, _LegacyGuardRow.last_signature))
        assert rows.all() == [("credit_risk", "sig-a")]
    engine.dispose()
    guard = RetrainGuard(
        url=db_url, scope="credit_risk", settings=GuardSettings(cooldown_minutes=60)
    )
    state = guard.state()
    assert (state.last_trigger_at, state.recent_triggers) == (T0, [T0])
    assert (state.last_trigger_key, state.last_outcome_key) == ("monitor-run-1", "train-run-1")
    assert state.consecutive_failures == 1
    assert guard.check(T0 + timedelta(minutes=1), "sig-b", False).reason.startswith("cooldown")
    registry.close()
