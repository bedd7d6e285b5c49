"""The Dask hook, and the one place that picks the Dask cluster of a ``dask`` training task."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook

from driftloop_provider.connection_types import DASK, DASK_PORT

if TYPE_CHECKING:
    from distributed import Client

    from driftloop.config import Settings


class DaskHook(BaseHook):
    """A Dask cluster from an Airflow connection of type ``dask``.

    Connection fields: host = the scheduler's host, or its whole address
    (``tcp://host:8786``, ``tls://...``); port = its port (default 8786); extra
    ``connect_timeout_seconds``. The form is declared in
    :data:`driftloop_provider.connection_types.DASK`.

    ``timeout_seconds`` is the wait for the scheduler when the connection sets none; by
    default that of the settings (``dask.connect_timeout_seconds``).
    """

    conn_name_attr = "dask_conn_id"
    default_conn_name = DASK.default_conn_name
    conn_type = DASK.conn_type
    hook_name = DASK.hook_name

    def __init__(
        self, dask_conn_id: str = default_conn_name, *, timeout_seconds: float | None = None
    ) -> None:
        super().__init__()
        self.dask_conn_id = dask_conn_id
        self._timeout_seconds = timeout_seconds

    @cached_property
    def address(self) -> str:
        """The scheduler's address, from the connection's host and port."""
        conn = self.get_connection(self.dask_conn_id)
        host = conn.host or ""
        if "://" in host:
            return host
        return f"tcp://{host}:{conn.port or DASK_PORT}"

    @cached_property
    def timeout_seconds(self) -> float:
        """How long to wait for the scheduler: the connection's, else the hook's default."""
        from driftloop.config.training import DaskSettings

        extra = self.get_connection(self.dask_conn_id).extra_dejson
        configured = extra.get("connect_timeout_seconds")
        if configured:
            return float(configured)
        return self._timeout_seconds or DaskSettings().connect_timeout_seconds

    def get_conn(self) -> Client:
        """A new client of the scheduler; close it when done.

        Raises:
            ClusterUnavailable: the scheduler did not answer in time.
        """
        from driftloop.training.distributed import connect

        return connect(self.address, timeout_seconds=self.timeout_seconds)

    def test_connection(self) -> tuple[bool, str]:
        """Reach the scheduler and report its workers (the UI's Test button)."""
        from driftloop.exceptions import ClusterUnavailable

        try:
            client = self.get_conn()
        except ClusterUnavailable as failed:
            return False, str(failed)
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"].values()
        finally:
            client.close()
        if not workers:
            return True, f"reached the Dask scheduler at {self.address}; it has no workers yet"
        threads = sum(worker["nthreads"] for worker in workers)
        memory = sum(worker.get("memory_limit") or 0 for worker in workers) / 2**30
        return True, (
            f"reached the Dask scheduler at {self.address}: {len(workers)} workers, "
            f"{threads} threads, {memory:.1f} GiB memory limit in all"
        )


def dask_client(settings: Settings, *, dask_conn_id: str | None = None) -> Client:
    """The cluster of a ``dask`` training task, chosen by configuration alone.

    From a Dask connection when one is named (here or as ``dask_conn_id`` in the
    settings), or when the settings hold no scheduler address (then ``dask_default``);
    otherwise from ``dask.scheduler_address``, as the CLI reads it. Close it when done.

    Raises:
        ClusterUnavailable: the scheduler did not answer in time.
    """
    conn_id = dask_conn_id or settings.dask_conn_id
    timeout = settings.dask.connect_timeout_seconds
    if conn_id or not settings.dask.scheduler_address:
        hook = DaskHook(conn_id or DaskHook.default_conn_name, timeout_seconds=timeout)
        return hook.get_conn()
    from driftloop.training.distributed import connect

    return connect(settings.dask.scheduler_address, timeout_seconds=timeout)
