"""The hooks: connections into core clients, and the answers of the form's Test button."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftloop.config import LakeFSSettings, Settings
from driftloop.exceptions import VersioningError
from driftloop.versioning.lakefs import LakeFSVersionStore
from driftloop_provider.hooks.dask import DaskHook, dask_client
from driftloop_provider.hooks.lakefs import LakeFSHook, version_store
from driftloop_provider.hooks.registry import RegistryHook
from tests.support.lakefs_standin import LakeFSStandIn
from tests.support.serving import free_port


@pytest.fixture(scope="module")
def lakefs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSStandIn]:
    with LakeFSStandIn(data_dir=tmp_path_factory.mktemp("lakefs")) as server:
        yield server


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    """An Airflow connection from the environment, as a secrets backend gives it."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_lakefs_hook_builds_the_store_and_its_test_logs_in(
    lakefs: LakeFSStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = {
        "conn_type": "lakefs",
        "host": lakefs.endpoint,
        "login": lakefs.access_key_id,
        "extra": {"storage_namespace": "local://standin/hooked"},
    }
    _connection(monkeypatch, "good", password=lakefs.secret_access_key, **common)
    _connection(monkeypatch, "bad", password="wrong", **common)

    hook = LakeFSHook("good", repository="hooked")
    store = hook.get_conn()
    assert isinstance(store, LakeFSVersionStore) and store.repository == "hooked"
    assert hook.get_conn() is store  # built once per hook
    ok, message = hook.test_connection()
    assert ok and "does not exist yet" in message, message

    store.ensure_repository("main")
    ok, message = LakeFSHook("good", repository="hooked").test_connection()
    assert ok and "has 1 branches" in message, message

    ok, message = LakeFSHook("bad", repository="hooked").test_connection()
    assert not ok and lakefs.endpoint in message, message


def test_a_task_store_from_a_connection_has_the_settings_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        home=tmp_path,
        versioning_backend="lakefs",
        lakefs_conn_id="hanging",
        lakefs=LakeFSSettings(timeout_seconds=0.2, retries=0),
    )
    # The kernel accepts the connection; nobody ever answers on it.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        host = f"http://127.0.0.1:{silent.getsockname()[1]}"
        _connection(monkeypatch, "hanging", conn_type="lakefs", host=host, login="k", password="s")
        with pytest.raises(VersioningError, match=rf"{host}/api/v1/.* within 0\.2 s \(lakefs"):
            version_store(settings).list_branches()


def test_registry_hook_keeps_the_password_in_the_password_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _connection(
        monkeypatch,
        "pg",
        conn_type="driftloop_registry",
        host="db.internal",
        port=5432,
        schema="registry",
        login="driftloop",
        password="p@ss:w/rd",
    )
    url = RegistryHook("pg").url
    assert url == "postgresql+psycopg2://driftloop:p%40ss%3Aw%2Frd@db.internal:5432/registry"


def test_registry_hook_test_reports_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    _connection(monkeypatch, "lite", conn_type="driftloop_registry", host=url)
    ok, message = RegistryHook("lite").test_connection()
    assert ok and "no registry schema yet" in message, message

    registry = RegistryHook("lite").get_conn()  # migrates
    ok, message = RegistryHook("lite").test_connection()
    assert ok and f"revision {registry.schema_revision()}" in message, message

    _connection(
        monkeypatch,
        "down",
        conn_type="driftloop_registry",
        host="127.0.0.1",
        port=free_port(),
        schema="registry",
        login="nobody",
    )
    ok, message = RegistryHook("down").test_connection()
    assert not ok and "unavailable" in message, message


def test_dask_hook_reads_the_scheduler_address_from_host_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _connection(monkeypatch, "plain", conn_type="dask", host="dask-scheduler")
    _connection(monkeypatch, "ported", conn_type="dask", host="10.0.0.5", port=9786)
    _connection(monkeypatch, "whole", conn_type="dask", host="tls://scheduler.internal:8786")
    assert DaskHook("plain").address == "tcp://dask-scheduler:8786"
    assert DaskHook("ported").address == "tcp://10.0.0.5:9786"
    assert DaskHook("whole").address == "tls://scheduler.internal:8786"


def test_dask_hook_test_reports_the_workers_or_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster

    down = f"tcp://127.0.0.1:{free_port()}"
    _connection(
        monkeypatch, "down", conn_type="dask", host=down, extra={"connect_timeout_seconds": 1}
    )
    ok, message = DaskHook("down").test_connection()
    assert not ok and f"scheduler at {down} did not answer within 1 s" in message, message

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        _connection(monkeypatch, "up", conn_type="dask", host=cluster.scheduler_address)
        ok, message = DaskHook("up").test_connection()
        assert ok and "2 workers, 2 threads" in message, message

        # the settings' address unless a connection is named
        settings = Settings(home=tmp_path, dask={"scheduler_address": cluster.scheduler_address})
        with dask_client(settings) as client:
            assert client.scheduler.address == cluster.scheduler_address
        named = Settings(home=tmp_path, dask={"scheduler_address": down}, dask_conn_id="up")
        with dask_client(named) as client:
            assert client.scheduler.address == cluster.scheduler_address
