"""The lakeFS hook, and the one place that picks the versioning backend for a task."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

from driftloop_provider.connection_types import LAKEFS

if TYPE_CHECKING:
    from driftloop.config import LakeFSSettings, Settings
    from driftloop.versioning.base import VersionStore
    from driftloop.versioning.lakefs import LakeFSVersionStore


class LakeFSHook(BaseHook):
    """A lakeFS repository from an Airflow connection of type ``lakefs``.

    Connection fields: host = endpoint, login = access key id, password = secret access key;
    extras ``repository`` and ``storage_namespace`` (both optional). The form is declared in
    :data:`driftloop_provider.connection_types.LAKEFS`.

    ``limits`` gives the request deadline and retries (its ``timeout_seconds`` and
    ``retries``; its endpoint and keys are not used); by default those of the settings.
    """

    conn_name_attr = "lakefs_conn_id"
    default_conn_name = LAKEFS.default_conn_name
    conn_type = LAKEFS.conn_type
    hook_name = LAKEFS.hook_name

    def __init__(
        self,
        lakefs_conn_id: str = default_conn_name,
        *,
        repository: str | None = None,
        limits: LakeFSSettings | None = None,
    ) -> None:
        super().__init__()
        self.lakefs_conn_id = lakefs_conn_id
        self._repository = repository
        self._limits = limits

    def get_conn(self) -> LakeFSVersionStore:
        """The connection's repository as a driftloop version store (built once per hook)."""
        return self._store

    @cached_property
    def _store(self) -> LakeFSVersionStore:
        from driftloop.config import LakeFSSettings
        from driftloop.versioning.lakefs import LakeFSVersionStore, lakefs_client

        conn = self.get_connection(self.lakefs_conn_id)
        extras = conn.extra_dejson
        limits = self._limits or LakeFSSettings()
        client = lakefs_client(
            self.endpoint,
            conn.login or "",
            conn.password or "",
            timeout_seconds=limits.timeout_seconds,
            retries=limits.retries,
        )
        return LakeFSVersionStore(
            client=client,
            repository=self._repository or extras.get("repository") or "driftloop",
            storage_namespace=extras.get("storage_namespace"),
        )

    @cached_property
    def endpoint(self) -> str:
        """The server's URL, from the connection's host and port."""
        conn = self.get_connection(self.lakefs_conn_id)
        endpoint = conn.host if "://" in (conn.host or "") else f"http://{conn.host}"
        return f"{endpoint}:{conn.port}" if conn.port else endpoint

    def test_connection(self) -> tuple[bool, str]:
        """Log in with the access key and look the repository up (the UI's Test button)."""
        from driftloop.exceptions import DriftloopError, RepositoryNotFound

        try:
            store = self.get_conn()
            branches = store.list_branches()
        except RepositoryNotFound:
            return True, (
                f"lakeFS at {self.endpoint} accepted the access key; repository "
                f"{store.repository!r} does not exist yet (the first ingest creates it)"
            )
        except DriftloopError as failed:
            return False, f"lakeFS at {self.endpoint}: {failed}"
        return True, (
            f"lakeFS at {self.endpoint} accepted the access key; repository "
            f"{store.repository!r} has {len(branches)} branches"
        )


def version_store(settings: Settings, *, lakefs_conn_id: str | None = None) -> VersionStore:
    """The task's version store, chosen by configuration alone.

    With ``versioning_backend: lakefs`` the store comes from a lakeFS connection when one is
    named (here or as ``lakefs_conn_id`` in the settings), or when the settings hold no lakeFS
    endpoint (then ``lakefs_default``); otherwise from the settings (``DRIFTLOOP_LAKEFS__*``),
    as the service and the CLI read them. Without lakeFS it is the embedded ``local`` store.
    """
    conn_id = lakefs_conn_id or settings.lakefs_conn_id
    if settings.versioning_backend == "lakefs" and (conn_id or not settings.lakefs.endpoint):
        hook = LakeFSHook(
            conn_id or LakeFSHook.default_conn_name,
            repository=settings.repository,
            limits=settings.lakefs,
        )
        return hook.get_conn()
    from driftloop.versioning.factory import open_store

    return open_store(settings)
