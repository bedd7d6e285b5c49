"""driftloop_train with ``engine=dask`` on real Dask processes: a scheduler and two workers.

The test starts ``dask scheduler`` and two ``dask worker`` processes (one process, one thread
and 1 GiB each), points the ``dask_default`` Airflow connection at the scheduler, runs the
train DAG through ``airflow dags test``, serves the champion through the serving core, and
replays the version with ``driftloop models reproduce`` on the same cluster. The scheduler's
task stream shows which worker read which partition.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import distributed
import pandas as pd
import pytest
from pydantic import TypeAdapter

from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_env, ensure_airflow_db, run_dag_once
from driftloop.registry import Registry
from driftloop.serving.contract import request_model
from driftloop.serving.handle import open_champion
from driftloop.serving.scoring import predict
from driftloop.spec import load_spec
from driftloop.training.distributed import PARTITION_KEY
from driftloop.training.features import model_frame
from driftloop.training.steps import read_dataset
from driftloop.versioning.factory import open_store
from driftloop_provider.testing import publish_synthetic_days
from tests.support.processes import kill, running, tree
from tests.support.serving import free_port

pytestmark = pytest.mark.integration

WORKERS = 2


@dataclass
class DaskProcesses:
    """The scheduler's address, a client of it, and the processes the test started."""

    address: str
    port: int
    client: distributed.Client
    processes: list[subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def project(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("dask-train") / "home", project_dir=repo_dir)
    publish_synthetic_days(settings, start=date(2026, 5, 1), days=2, rows=2000)
    ensure_airflow_db(settings)
    return settings


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    dask = str(Path(sys.executable).parent / "dask")
    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    local = ["--host", "127.0.0.1", "--no-dashboard"]
    worker = [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--memory-limit"]
    commands = [
        [dask, "scheduler", "--port", str(port), *local],
        *([*worker, "1GiB", "--name", f"worker-{i}", *local] for i in range(WORKERS)),
    ]
    processes = []
    try:
        for number, command in enumerate(commands):
            with (logs / f"{number}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        client = distributed.Client(address, timeout=60, set_as_default=False)
        client.wait_for_workers(WORKERS, timeout=120)
        yield DaskProcesses(address, port, client, processes)
        client.close()
    finally:
        _stop(processes)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop each process with its whole tree (a worker's nanny starts the worker)."""
    pids = [pid for process in processes if process.poll() is None for pid in tree(process.pid)]
    for process in reversed(processes):  # workers first, while the scheduler hears them go
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    kill(pids)
    for process in processes:
        process.wait(timeout=10)
    assert running(pids) == []


def test_train_on_dask_promotes_a_champion_that_serves_and_reproduces(
    project: Settings, cluster: DaskProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = cluster.client
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    assert len(workers) == WORKERS
    started = time.time()
    client.get_task_stream(start=started)  # installs the scheduler's task-stream plugin
    # No scheduler in the settings: the task finds it through the dask_default connection.
    connection = {"conn_type": "dask", "host": "127.0.0.1", "port": cluster.port}
    monkeypatch.setenv("AIRFLOW_CONN_DASK_DEFAULT", json.dumps(connection))

    conf = {"reason": "dask", "engine": "dask", "num_boost_round": 40}
    outcome = run_dag_once(project, "driftloop_train", conf=conf)
    assert outcome.succeeded, outcome.output[-4000:]

    registry = Registry(url=project.registry_database_url)
    champion = registry.get_alias("credit_risk", "champion")
    lineage = champion.lineage
    assert (champion.version, lineage.engine, lineage.workers) == (1, "dask", WORKERS)
    assert lineage.metrics["roc_auc"] > 0.7
    store = open_store(project)
    folder = lineage.artifact_uri.rsplit("/", 1)[0]
    record = json.loads(store.read_object(lineage.artifact_commit, f"{folder}/training.json"))
    assert record["engine"] == "dask" and record["rows"] == 4000
    # XGBoost trained on partitions held by both workers ...
    assert sorted(record["partitions_per_worker"]) == workers
    assert all(count >= 1 for count in record["partitions_per_worker"].values())
    # ... and the scheduler saw each worker read partitions of the data commit
    stream = client.get_task_stream(start=started)
    readers = {task["worker"] for task in stream if str(task["key"]).startswith(PARTITION_KEY)}
    assert readers == set(workers), stream

    # The serving core loads the Dask-trained booster and scores with it.
    spec = load_spec(project.dataset_spec_path)
    handle = open_champion(project, spec).load_champion()
    assert handle.version == champion.version and handle.data_commit == lineage.data_commit
    rows = read_dataset(store, spec, lineage.data_commit).head(3)
    records = TypeAdapter(list[request_model(spec)]).validate_python(
        json.loads(rows.to_json(orient="records"))
    )
    served = [p.probability for p in predict(handle, records).predictions]
    expected = handle.booster.inplace_predict(model_frame(pd.DataFrame(rows), spec))
    assert served == pytest.approx(expected.tolist(), rel=1e-6)

    reproduced = subprocess.run(
        [sys.executable, "-m", "driftloop.launcher.cli", "models", "reproduce", "1"],
        env=airflow_env(project) | {"DRIFTLOOP_DASK__SCHEDULER_ADDRESS": cluster.address},
        cwd=project.project_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert f"reproduced on dask ({WORKERS} workers): model file byte-identical" in (
        reproduced.stdout
    )
