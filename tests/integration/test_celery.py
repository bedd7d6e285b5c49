"""The distributed path: the same DAGs on the CeleryExecutor, as separate processes.

Scheduler, dag-processor, triggerer, api-server and two Celery workers; Airflow's metadata
and Celery's results on PostgreSQL, Redis as the broker, the registry on PostgreSQL and the
data in lakeFS (the stand-in, over HTTP). Each worker has its own ``DRIFTLOOP_HOME``, as on its
own machine; only the landing folder (the source system) is shared. The whole loop runs:
ingest → train → serve → drift → retrain.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import make_url

from driftloop.config import Settings
from driftloop.launcher.loop import INGEST, TRAIN, run_loop
from driftloop.launcher.stack import AirflowStack, CeleryWorker
from driftloop.registry import Registry
from driftloop.versioning.factory import open_store
from tests.support.lakefs_standin import LakeFSStandIn
from tests.support.postgres import temporary_database
from tests.support.services import skip_unless_ci
from tests.support.serving import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def broker() -> Iterator[str]:
    """A Redis database for Celery's queues, empty before and after."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError:
        skip_unless_ci("Redis on 127.0.0.1:6379 is unreachable")
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def distributed_env(
    broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The production settings, by environment only: PostgreSQL, Redis, lakeFS."""
    with (
        temporary_database("driftloop_airflow") as airflow_db,
        temporary_database("driftloop_registry") as registry_db,
        LakeFSStandIn(data_dir=tmp_path / "lakefs") as lakefs,
    ):
        airflow_url = airflow_db.render_as_string(hide_password=False)
        repository = f"celery-{secrets.token_hex(3)}"
        env = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_url,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_url.replace("+psycopg2", ""),
            "DRIFTLOOP_REGISTRY_URL": registry_db.render_as_string(hide_password=False),
            "DRIFTLOOP_VERSIONING_BACKEND": "lakefs",
            "DRIFTLOOP_REPOSITORY": repository,
            "DRIFTLOOP_LAKEFS__ENDPOINT": lakefs.endpoint,
            "DRIFTLOOP_LAKEFS__ACCESS_KEY_ID": lakefs.access_key_id,
            "DRIFTLOOP_LAKEFS__SECRET_ACCESS_KEY": lakefs.secret_access_key,
            "DRIFTLOOP_LAKEFS__STORAGE_NAMESPACE": f"local://standin/{repository}",
            "DRIFTLOOP_LANDING": str(tmp_path / "landing"),
            # The connection form's Test button, for the hooks' test_connection().
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


def _hosts(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, str]:
    instances = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")
    return {
        ti["task_id"]: ti["hostname"]
        for ti in instances["task_instances"]
        if ti["state"] == "success" and ti["hostname"]
    }


def _connection_tests(stack: AirflowStack, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What the connection form's Test button answers, for good and bad connections."""
    registry = make_url(env["DRIFTLOOP_REGISTRY_URL"])
    lakefs = {
        "conn_type": "lakefs",
        "host": env["DRIFTLOOP_LAKEFS__ENDPOINT"],
        "login": env["DRIFTLOOP_LAKEFS__ACCESS_KEY_ID"],
        "password": env["DRIFTLOOP_LAKEFS__SECRET_ACCESS_KEY"],
        "extra": json.dumps({"repository": env["DRIFTLOOP_REPOSITORY"]}),
    }
    database = {
        "conn_type": "driftloop_registry",
        "host": registry.host,
        "port": registry.port,
        "schema": registry.database,
        "login": registry.username,
        "password": registry.password,
        "extra": json.dumps({"driver": registry.drivername}),
    }
    bodies = {
        "lakefs": lakefs,
        "lakefs_bad_key": lakefs | {"password": "wrong"},
        "registry": database,
        "registry_url_in_host": {
            "conn_type": "driftloop_registry",
            "host": registry.render_as_string(hide_password=False),
        },
        "registry_unreachable": database | {"port": free_port()},
    }
    return {
        name: stack.api("POST", "/connections/test", {"connection_id": name, **body})
        for name, body in bodies.items()
    }


def test_the_loop_runs_on_two_celery_workers_that_share_no_disk(
    repo_dir: Path, tmp_path: Path, distributed_env: dict[str, str], lineage_events: Any
) -> None:
    homes = {name: tmp_path / f"worker-{name}" for name in ("alpha", "beta")}
    workers = tuple(
        CeleryWorker(
            name,
            env={
                "DRIFTLOOP_HOME": str(home),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            },
        )
        for name, home in homes.items()
    )
    settings = Settings(
        home=tmp_path / "control",
        project_dir=repo_dir,
        airflow_port=free_port(),
        serving_port=free_port(),
    )
    lines: list[str] = []

    with AirflowStack(settings, workers=workers) as stack:
        report = run_loop(stack, rows=1500, good_days=2, say=lines.append, degraded_day=False)
        first_train = stack.runs(TRAIN)[0]["dag_run_id"]
        train_hosts = _hosts(stack, TRAIN, first_train)
        ingest_hosts = {
            host
            for run in stack.runs(INGEST)
            for host in _hosts(stack, INGEST, run["dag_run_id"]).values()
        }
        tested = _connection_tests(stack, distributed_env)

    states = list(report.ingested.values())
    assert states.count("failed") == 1 and states.count("success") == 4, lines
    assert report.decisions[0].startswith("version 1 PROMOTED"), lines
    assert "drift" in report.retrain_conf["signals"], lines
    assert "income" in report.retrain_conf["drifted_features"], lines
    registry = Registry(url=distributed_env["DRIFTLOOP_REGISTRY_URL"])
    assert len(registry.decisions("credit_risk")) == 3, lines
    assert report.served_versions[-1] == registry.get_alias("credit_risk", "champion").version

    # one run's tasks ran on both workers, so each step found its inputs in the shared
    # stores, not on the disk or in the memory of the worker that ran the step before
    nodes = {worker.node() for worker in workers}
    assert set(train_hosts.values()) == nodes, train_hosts
    assert ingest_hosts == nodes, ingest_hosts
    for home in homes.values():
        assert not (home / "versioning").exists(), f"{home} holds a local store"
        assert not (home / "registry.db").exists(), f"{home} holds a local registry"
    store = open_store(settings)
    assert store.list_objects("main", "data/"), "no batch reached lakeFS"
    bentos = [o.path for o in store.list_objects("models") if o.path.endswith(".bento")]
    assert bentos, "the Bento built on a worker did not reach the store"

    # the Test button of both connection types, through the REST API
    assert tested["lakefs"]["status"], tested
    assert "accepted the access key" in tested["lakefs"]["message"]
    assert not tested["lakefs_bad_key"]["status"], tested
    assert (
        "401" in tested["lakefs_bad_key"]["message"]
        or "authent" in tested["lakefs_bad_key"]["message"]
    ), tested
    for good in ("registry", "registry_url_in_host"):
        assert tested[good]["status"], tested
        assert "registry schema at revision" in tested[good]["message"], tested
    assert not tested["registry_unreachable"]["status"], tested

    # lineage from the workers: lakeFS objects, named in the repository's namespace
    namespace = f"lakefs://{distributed_env['DRIFTLOOP_REPOSITORY']}"
    (publish, *_) = lineage_events.completed(f"{INGEST}.publish")
    assert {d["namespace"] for d in publish["outputs"]} == {namespace}, publish["outputs"]
    assert any(d["name"].startswith("main/data/") for d in publish["outputs"])
