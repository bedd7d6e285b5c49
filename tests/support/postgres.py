"""Throwaway databases and schemas on the local PostgreSQL server (127.0.0.1:5432)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import URL, create_engine, text
from sqlalchemy.exc import OperationalError

from tests.support.services import skip_unless_ci

ADMIN_URLS = (
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
)


def admin_url() -> URL:
    """A URL that reaches the server with rights to create databases; skip (fail in CI) if none."""
    for candidate in ADMIN_URLS:
        engine = create_engine(candidate, connect_args={"connect_timeout": 5})
        try:
            with engine.connect():
                return engine.url
        except OperationalError:
            continue
        finally:
            engine.dispose()
    skip_unless_ci("PostgreSQL on 127.0.0.1:5432 is unreachable")
    raise AssertionError("unreachable")


@contextmanager
def temporary_database(prefix: str) -> Iterator[URL]:
    """A new database named ``<prefix>_<random>``, dropped (connections and all) afterwards."""
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def temporary_schema(database: URL, prefix: str) -> Iterator[str]:
    """A new schema in ``database``, as the search path of the returned URL; dropped afterwards."""
    engine = create_engine(database, isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{secrets.token_hex(6)}"
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        url = database.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


@contextmanager
def temporary_role(prefix: str, password: str) -> Iterator[str]:
    """A new login role ``<prefix>_<random>`` with ``password``; dropped afterwards.

    Drop the databases it has rights in first (``temporary_database`` inside this block).
    """
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(
            text(f'CREATE ROLE "{name}" LOGIN PASSWORD :password'), {"password": password}
        )
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
        admin.dispose()
