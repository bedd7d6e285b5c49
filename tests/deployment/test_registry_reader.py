"""The service's read-only registry role, on the real PostgreSQL server.

docker/postgres/registry-reader.sql runs through psql as create-databases.sql runs it, on a
scratch database with scratch roles; then the owner migrates the registry, as airflow-init does
after PostgreSQL's first start, so the tables exist only after the grants. The reader must read
every one of them and write none.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import URL, create_engine, inspect
from sqlalchemy.exc import DBAPIError

from driftloop.exceptions import RegistryError, VersionNotFound
from driftloop.registry import Registry
from driftloop.registry.database import VERSION_TABLE
from driftloop.registry.models import Base
from tests.conftest import REPO
from tests.support.postgres import admin_url, temporary_database
from tests.support.services import skip_unless_ci

pytestmark = pytest.mark.postgres

READER_SQL = REPO / "docker" / "postgres" / "registry-reader.sql"
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def roles() -> Iterator[tuple[str, str]]:
    """A scratch owner and reader (roles are global to the server), dropped afterwards."""
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    suffix = secrets.token_hex(4)
    owner, reader = f"registry_owner_{suffix}", f"registry_reader_{suffix}"
    with admin.connect() as connection:
        for role in (owner, reader):
            connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield owner, reader
    finally:
        with admin.connect() as connection:
            for role in (reader, owner):
                connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


@pytest.fixture
def database(roles: tuple[str, str]) -> Iterator[URL]:
    """A scratch database with registry-reader.sql applied for the scratch roles."""
    psql = shutil.which("psql")
    if psql is None:
        skip_unless_ci("psql is not installed")
    owner, reader = roles
    with temporary_database("registry_reader") as url:
        command = [
            psql,
            "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "--quiet",
            "-h", url.host, "-p", str(url.port), "-U", url.username, "-d", url.database,
            "-v", f"owner={owner}", "-v", f"reader={reader}",
            "-f", str(READER_SQL),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        yield url


def test_the_reader_reads_every_registry_table_and_writes_none(
    roles: tuple[str, str], database: URL
) -> None:
    owner, reader = roles
    owner_registry = Registry(url=database.set(username=owner).render_as_string(False))
    owner_registry.upgrade()
    owner_registry.ensure_model("credit_risk", description="owned by the owner")
    owner_registry.close()

    reader_url = database.set(username=reader).render_as_string(hide_password=False)
    service = Registry(url=reader_url)
    # what the service does: read the schema, the model, its aliases and versions
    assert service.schema_revision() is not None
    assert service.get_model("credit_risk").description == "owned by the owner"
    assert service.aliases("credit_risk") == {}
    with pytest.raises(VersionNotFound):
        service.get_version("credit_risk", 1)
    with pytest.raises(RegistryError, match="read-only transaction"):
        service.ensure_model("another")
    service.close()

    engine = create_engine(reader_url, isolation_level="AUTOCOMMIT")
    try:
        tables = set(inspect(engine).get_table_names())
        assert tables == {*Base.metadata.tables, VERSION_TABLE}
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW default_transaction_read_only").scalar() == "on"
            # Past the read-only default, privileges alone must refuse every write.
            connection.exec_driver_sql("SET default_transaction_read_only = off")
            for table in sorted(tables):
                assert connection.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar() >= 0
                column = inspect(engine).get_columns(table)[0]["name"]
                for statement in (
                    f'INSERT INTO "{table}" DEFAULT VALUES',
                    f'UPDATE "{table}" SET "{column}" = "{column}"',
                    f'DELETE FROM "{table}"',
                    f'TRUNCATE "{table}"',
                ):
                    with pytest.raises(DBAPIError) as refused:
                        connection.exec_driver_sql(statement)
                    assert refused.value.orig.pgcode == INSUFFICIENT_PRIVILEGE, statement
            with pytest.raises(DBAPIError) as refused:
                connection.exec_driver_sql("CREATE TABLE intruder (id integer)")
            assert refused.value.orig.pgcode == INSUFFICIENT_PRIVILEGE
    finally:
        engine.dispose()
