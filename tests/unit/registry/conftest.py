"""Registry fixtures: every test runs on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import URL

from driftloop.registry import Registry, VersionLineage
from driftloop.registry.database import MIGRATIONS_DIR
from tests.support.postgres import temporary_database, temporary_schema
from tests.support.registry import sample_lineage


@pytest.fixture
def alembic_config() -> Config:
    """An Alembic configuration over the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@pytest.fixture
def head_revision(alembic_config: Config) -> str:
    """The newest shipped migration."""
    head = ScriptDirectory.from_config(alembic_config).get_current_head()
    assert head is not None
    return head


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[URL]:
    """A database created for this test session and dropped at its end."""
    with temporary_database("driftloop_test") as url:
        yield url


@pytest.fixture
def postgres_url(postgres_database: URL) -> Iterator[str]:
    """A fresh empty schema in the session's database, set as the connection's search_path."""
    with temporary_schema(postgres_database, "t") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in a folder that does not exist yet, or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'not-yet' / 'registry.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    """A migrated registry."""
    registry = Registry(url=db_url)
    registry.upgrade()
    yield registry
    registry.close()


@pytest.fixture
def lineage() -> VersionLineage:
    """A complete lineage, as the training task would record it."""
    return sample_lineage()
