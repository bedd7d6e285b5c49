"""The CLI's Dask cluster: the configured scheduler, or a local one started for the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.exceptions import ClusterUnavailable
from driftloop.launcher.cluster import dask_cluster
from tests.support.serving import free_port


def test_without_a_scheduler_a_local_cluster_of_that_size_runs_for_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with dask_cluster(Settings(home=tmp_path), workers=2) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["nthreads"] for w in workers] == [1, 1]
    assert client.status == "closed"
    assert "starting a local cluster of 2 worker processes" in capsys.readouterr().out


def test_a_configured_scheduler_that_does_not_answer_is_named(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    settings = Settings(
        home=tmp_path, dask={"scheduler_address": address, "connect_timeout_seconds": 1}
    )
    with pytest.raises(ClusterUnavailable, match=f"{address} did not answer within 1 s"):
        with dask_cluster(settings, workers=2):
            pass
