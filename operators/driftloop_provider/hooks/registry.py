"""The registry hook: a connection (or the settings) to the model registry's database."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry


class RegistryHook(BaseHook):
    """Builds the model registry from a ``driftloop_registry`` connection.

    The connection's host field holds the full SQLAlchemy URL, so any database SQLAlchemy
    speaks works without driftloop knowing its URL format.
    """

    conn_name_attr = "registry_conn_id"
    default_conn_name = "driftloop_registry"
    conn_type = "driftloop_registry"
    hook_name = "driftloop model registry"

    def __init__(self, registry_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.registry_conn_id = registry_conn_id

    @cached_property
    def registry(self) -> Registry:
        """The registry, with its schema migrated to the current revision."""
        from driftloop.registry import Registry

        registry = Registry(url=self.get_connection(self.registry_conn_id).host or "")
        registry.upgrade()
        return registry

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Only the URL matters."""
        return {
            "hidden_fields": ["port", "schema", "login", "password", "extra"],
            "relabeling": {"host": "SQLAlchemy URL"},
        }


def registry_for(settings: Settings) -> Registry:
    """The task's registry: from the named connection when configured, else the settings' URL."""
    if settings.registry_conn_id:
        return RegistryHook(settings.registry_conn_id).registry
    from driftloop.registry import Registry

    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    return registry
