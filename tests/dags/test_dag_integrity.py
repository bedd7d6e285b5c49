"""Every DAG imports cleanly, without connection lookups, network or store I/O at parse time."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

EXPECTED_DAGS = {"driftloop_ingest", "driftloop_train", "driftloop_drift_monitor"}


@pytest.fixture(scope="module")
def dagbag(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook
    from airflow.sdk.definitions.connection import Connection

    def forbidden(*args, **kwargs):
        raise AssertionError("a DAG file looked up a connection or opened a socket at parse time")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseHook, "get_connection", classmethod(forbidden))
        mp.setattr(Connection, "get", classmethod(forbidden))
        mp.setattr(socket.socket, "connect", forbidden)
        home = tmp_path_factory.mktemp("untouched-home")
        mp.setenv("DRIFTLOOP_HOME", str(home / "home"))
        bag = DagBag(dag_folder=str(repo_dir / "dags"))
        assert not (home / "home").exists(), "parsing a DAG created driftloop's stores"
    return bag


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_expected_dags_present(dagbag) -> None:
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_tags_retries_and_docs(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert "driftloop" in dag.tags
    assert dag.doc_md
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_ingest_wap_order(dagbag) -> None:
    dag = dagbag.dags["driftloop_ingest"]
    assert dag.get_task("stage").downstream_task_ids == {"validate", "publish"}
    assert dag.get_task("validate").downstream_task_ids == {"publish"}
    assert dag.get_task("publish").downstream_task_ids == {"profile"}
    publish = dag.get_task("publish")
    assert [o.name for o in publish.outlets] == ["driftloop_published_data"]


def test_train_promotion_gates(dagbag) -> None:
    dag = dagbag.dags["driftloop_train"]
    assert dag.get_task("decide").downstream_task_ids == {"approve", "auto_approve"}
    promote = dag.get_task("promote")
    assert promote.upstream_task_ids == {"approve", "auto_approve"}
    assert promote.trigger_rule == "none_failed_min_one_success"
    assert set(dag.params.keys()) >= {"reason", "data_ref", "promotion_mode"}


def test_drift_monitor_waits_deferrably_and_gates_retraining(dagbag) -> None:
    dag = dagbag.dags["driftloop_drift_monitor"]
    assert dag.get_task("wait_for_profiles").deferrable
    assert dag.get_task("retrain_gate").downstream_task_ids == {"trigger_retrain", "alert"}
    retrain = dag.get_task("trigger_retrain")
    assert retrain.trigger_dag_id == "driftloop_train"
    assert dag.max_active_runs == 1
