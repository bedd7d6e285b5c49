from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from driftloop.exceptions import RegistryError, RegistryUnavailable
from driftloop.registry import Registry, VersionLineage
from driftloop.registry.database import VERSION_TABLE
from driftloop.registry.models import Base

TABLES = {
    "registry_models",
    "registry_model_versions",
    "registry_aliases",
    "registry_alias_moves",
    "registry_decisions",
    VERSION_TABLE,
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
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


def test_migrations_match_the_models(registry: Registry, db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


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


def test_calls_before_upgrade_say_the_schema_is_missing(db_url: str) -> None:
    registry = Registry(url=db_url)
    with pytest.raises(RegistryError, match=r"schema is missing.*upgrade\(\)") as caught:
        registry.list_models()
    assert not isinstance(caught.value, RegistryUnavailable)
    registry.close()
