"""Engine, transactions, migrations, and the one place database errors become registry errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from driftloop.exceptions import RegistryError, RegistryUnavailable
from driftloop.sqlite import enable_wal

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "registry_alembic_version"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")

_WRITE_OPTION = "driftloop_registry_write"
# pg_advisory_xact_lock key shared by every process migrating the registry.
_MIGRATION_LOCK_KEY = 0x64726C7267  # "drlrg"
_PG_CONNECT_TIMEOUT_S = 10


class Database:
    """An engine over one URL, handing out read and write transactions.

    Writers serialize per model through the caller's row lock on PostgreSQL, and
    through ``BEGIN IMMEDIATE`` on SQLite, which has no row locks.
    """

    def __init__(self, url: str, *, sqlite_timeout: float) -> None:
        self.url: URL = make_url(url)
        self.masked_url = self.url.render_as_string(hide_password=True)
        backend = self.url.get_backend_name()
        if backend not in SUPPORTED_BACKENDS:
            raise RegistryError(
                f"unsupported registry database {self.masked_url}: use one of {SUPPORTED_BACKENDS}"
            )
        options: dict[str, Any] = {
            "pool_pre_ping": True,
            # NaN and Infinity are not JSON: PostgreSQL would refuse them, SQLite would not.
            "json_serializer": partial(json.dumps, allow_nan=False),
        }
        if backend == "sqlite":
            self._create_parent_folder()
            options["connect_args"] = {"timeout": sqlite_timeout}
        elif "connect_timeout" not in self.url.query:
            options["connect_args"] = {"connect_timeout": _PG_CONNECT_TIMEOUT_S}
        self.engine: Engine = create_engine(self.url, **options)
        if backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})

    def _create_parent_folder(self) -> None:
        database = self.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryUnavailable(
                f"cannot create the folder of the registry database {self.masked_url}: {exc}",
                url=self.masked_url,
            ) from exc

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Session]:
        """One session in one transaction, committed on success, rolled back on any error.

        Raises:
            RegistryUnavailable: the database cannot be reached or stayed locked.
            RegistryError: any other database error.

        """
        try:
            with (
                Session(self._write_engine if write else self.engine) as session,
                session.begin(),
            ):
                yield session
        except SQLAlchemyError as exc:
            raise self._translate(exc) from exc

    def upgrade(self) -> None:
        """Apply every pending migration in one transaction; safe to run from many processes.

        Raises:
            RegistryUnavailable: the database cannot be reached.
            RegistryError: a migration failed.

        """
        try:
            with self._write_engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Two first runs would both try to create the tables; the second
                    # waits here, then finds the schema at head.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                command.upgrade(_alembic_config(connection), "head")
        except SQLAlchemyError as exc:
            raise self._translate(exc) from exc

    def head(self) -> str | None:
        """The newest revision the shipped migrations define."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()

    def revision(self) -> str | None:
        """Return the applied schema revision, ``None`` before the first upgrade.

        Raises:
            RegistryUnavailable: the database cannot be reached.

        """
        try:
            with self.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"version_table": VERSION_TABLE}
                )
                return context.get_current_revision()
        except SQLAlchemyError as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: SQLAlchemyError) -> RegistryError:
        detail = _first_line(exc.orig if isinstance(exc, DBAPIError) else exc)
        if _is_missing_table(exc):
            return RegistryError(
                f"the registry schema is missing in {self.masked_url}: "
                f"run Registry.upgrade() first ({detail})"
            )
        if isinstance(exc, OperationalError | InterfaceError):
            return RegistryUnavailable(
                f"registry database {self.masked_url} is unavailable: {detail}",
                url=self.masked_url,
            )
        return RegistryError(f"registry database error in {self.masked_url}: {detail}")


def _alembic_config(connection: Connection | None) -> Config:
    config = Config()
    # Config values are interpolated: a literal % in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN would hide the transaction start from us;
    # with it off, _sqlite_begin decides between BEGIN and BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    enable_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the database's write lock up front: two deferred writers that
    # both read first would otherwise deadlock on upgrading to it.
    write = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _is_missing_table(exc: SQLAlchemyError) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "pgcode", None) == "42P01" or "no such table" in str(exc.orig)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
