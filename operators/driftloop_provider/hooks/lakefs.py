"""The lakeFS hook, and the one place that picks the versioning backend for a task."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.versioning.base import VersionStore
    from driftloop.versioning.lakefs import LakeFSVersionStore


class LakeFSHook(BaseHook):
    """Builds a lakeFS-backed version store from an Airflow connection of type ``lakefs``.

    Connection fields: host = endpoint, login = access key id, password = secret access key;
    extras ``repository`` and ``storage_namespace`` (both optional).
    """

    conn_name_attr = "lakefs_conn_id"
    default_conn_name = "lakefs_default"
    conn_type = "lakefs"
    hook_name = "lakeFS"

    def __init__(self, lakefs_conn_id: str = default_conn_name, *, repository: str | None = None):
        super().__init__()
        self.lakefs_conn_id = lakefs_conn_id
        self._repository = repository

    @cached_property
    def store(self) -> LakeFSVersionStore:
        """The version store, built on first use."""
        from driftloop.versioning.lakefs import LakeFSVersionStore, lakefs_client

        conn = self.get_connection(self.lakefs_conn_id)
        extras = conn.extra_dejson
        endpoint = conn.host if "://" in (conn.host or "") else f"http://{conn.host}"
        if conn.port:
            endpoint = f"{endpoint}:{conn.port}"
        client = lakefs_client(endpoint, conn.login or "", conn.password or "")
        return LakeFSVersionStore(
            client=client,
            repository=self._repository or extras.get("repository") or "driftloop",
            storage_namespace=extras.get("storage_namespace"),
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the generic connection form for lakeFS."""
        return {
            "hidden_fields": ["schema", "port", "extra"],
            "relabeling": {
                "host": "lakeFS endpoint",
                "login": "Access key ID",
                "password": "Secret access key",
            },
        }


def version_store(settings: Settings, *, lakefs_conn_id: str | None = None) -> VersionStore:
    """The task's version store, chosen by configuration alone.

    With ``versioning_backend: lakefs`` the store comes from a lakeFS connection when one is
    named, or when the settings hold no lakeFS endpoint (then ``lakefs_default``); otherwise
    from the settings (``DRIFTLOOP_LAKEFS__*``), as the service and the CLI read them.
    Without lakeFS it is the embedded ``local`` store.
    """
    if settings.versioning_backend == "lakefs" and (lakefs_conn_id or not settings.lakefs.endpoint):
        conn_id = lakefs_conn_id or LakeFSHook.default_conn_name
        return LakeFSHook(conn_id, repository=settings.repository).store
    from driftloop.versioning.factory import open_store

    return open_store(settings)
