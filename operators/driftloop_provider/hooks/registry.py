"""The registry hook: a connection (or the settings) to the model registry's database."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

from driftloop_provider.connection_types import REGISTRY, REGISTRY_DRIVER

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry


class RegistryHook(BaseHook):
    """The model registry from a ``driftloop_registry`` connection.

    The database is given by the usual fields (host, port, database in ``schema``, login and
    password, which Airflow masks) and the SQLAlchemy ``driver`` extra (default
    ``postgresql+psycopg2``). A host holding a whole SQLAlchemy URL (``sqlite:///...``) is
    taken as it is. The form is declared in :data:`driftloop_provider.connection_types.REGISTRY`.
    """

    conn_name_attr = "registry_conn_id"
    default_conn_name = REGISTRY.default_conn_name
    conn_type = REGISTRY.conn_type
    hook_name = REGISTRY.hook_name

    def __init__(self, registry_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.registry_conn_id = registry_conn_id

    @cached_property
    def url(self) -> str:
        """The database's SQLAlchemy URL, built from the connection's fields."""
        from sqlalchemy import URL

        conn = self.get_connection(self.registry_conn_id)
        if "://" in (conn.host or ""):
            return conn.host
        return URL.create(
            conn.extra_dejson.get("driver") or REGISTRY_DRIVER,
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)

    def get_conn(self) -> Registry:
        """The registry, its schema migrated once per process when behind."""
        from driftloop.registry import open_registry

        return open_registry(self.url)

    def test_connection(self) -> tuple[bool, str]:
        """Reach the database and report its schema revision (the UI's Test button)."""
        from driftloop.exceptions import DriftloopError
        from driftloop.registry import Registry

        registry = Registry(url=self.url)
        try:
            revision = registry.schema_revision()
        except DriftloopError as failed:
            return False, str(failed)
        finally:
            registry.close()
        if revision is None:
            return True, f"reached {registry.url}; no registry schema yet (tasks create it)"
        return True, f"reached {registry.url}; registry schema at revision {revision}"


def registry_url(settings: Settings, *, registry_conn_id: str | None = None) -> str:
    """The registry's URL: from the named connection (here or in the settings), else settings."""
    conn_id = registry_conn_id or settings.registry_conn_id
    return RegistryHook(conn_id).url if conn_id else settings.registry_database_url
