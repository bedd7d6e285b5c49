"""The provider's connection types, declared once: the hooks and the provider metadata read them.

Plain data on purpose: Airflow reads the provider metadata while it imports itself, so this
module imports nothing of Airflow's, and neither does :mod:`driftloop_provider.provider_info`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REGISTRY_DRIVER = "postgresql+psycopg2"
"""The SQLAlchemy driver of a registry connection that names none."""


@dataclass(frozen=True)
class ConnectionType:
    """One connection type: its hook, its default connection, its form in the UI."""

    conn_type: str
    hook_name: str
    hook_class: str
    default_conn_name: str
    form: dict[str, Any]

    def provider_info(self) -> dict[str, Any]:
        """The entry under ``connection-types`` in the provider metadata."""
        return {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            **self.form,
        }


LAKEFS = ConnectionType(
    conn_type="lakefs",
    hook_name="lakeFS",
    hook_class="driftloop_provider.hooks.lakefs.LakeFSHook",
    default_conn_name="lakefs_default",
    form={
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {
                "host": "lakeFS endpoint",
                "login": "Access key ID",
                "password": "Secret access key",
            },
            "placeholders": {"host": "http://lakefs:8000", "login": "AKIAIOSFODNN7EXAMPLE"},
        },
        "conn-fields": {
            "repository": {"label": "Repository", "schema": {"type": ["string", "null"]}},
            "storage_namespace": {
                "label": "Storage namespace (for a new repository)",
                "schema": {"type": ["string", "null"]},
            },
        },
    },
)

REGISTRY = ConnectionType(
    conn_type="driftloop_registry",
    hook_name="driftloop model registry",
    hook_class="driftloop_provider.hooks.registry.RegistryHook",
    default_conn_name="driftloop_registry",
    form={
        "ui-field-behaviour": {
            "hidden-fields": ["extra"],
            "relabeling": {"host": "Host (or a whole SQLAlchemy URL)", "schema": "Database"},
            "placeholders": {"host": "postgres", "port": "5432", "schema": "registry"},
        },
        "conn-fields": {
            "driver": {
                "label": "SQLAlchemy driver",
                "schema": {"type": ["string", "null"], "default": REGISTRY_DRIVER},
            },
        },
    },
)

DASK_PORT = 8786
"""The Dask scheduler's port when a connection names none."""

DASK = ConnectionType(
    conn_type="dask",
    hook_name="Dask cluster",
    hook_class="driftloop_provider.hooks.dask.DaskHook",
    default_conn_name="dask_default",
    form={
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "password", "extra"],
            "relabeling": {"host": "Scheduler host (or its tcp:// or tls:// address)"},
            "placeholders": {"host": "dask-scheduler", "port": str(DASK_PORT)},
        },
        "conn-fields": {
            "connect_timeout_seconds": {
                "label": "Seconds to wait for the scheduler",
                "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
            },
        },
    },
)

CONNECTION_TYPES = (LAKEFS, REGISTRY, DASK)
