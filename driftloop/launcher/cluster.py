"""The Dask cluster the CLI trains on: the configured scheduler, or one started for the command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

    from driftloop.config import Settings


@contextmanager
def dask_cluster(settings: Settings, *, workers: int) -> Iterator[Client]:
    """A client of ``dask.scheduler_address``, or of a local cluster of ``workers`` workers.

    A local cluster (one process and one thread per worker) is started only when no
    scheduler is configured, says so on stdout, and is stopped on exit.

    Raises:
        ClusterUnavailable: the configured scheduler did not answer in time.
    """
    from distributed import Client, LocalCluster

    from driftloop.training.distributed import connect

    address = settings.dask.scheduler_address
    if address:
        client = connect(address, timeout_seconds=settings.dask.connect_timeout_seconds)
        try:
            yield client
        finally:
            client.close()
        return
    print(
        f"no Dask scheduler configured (dask.scheduler_address): starting a local cluster of "
        f"{workers} worker processes for this command"
    )
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client
