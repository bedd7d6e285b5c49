"""Every DAG imports cleanly, without connection lookups, network or store I/O at parse time."""

from __future__ import annotations

import copy
import socket
from datetime import timedelta
from pathlib import Path

import pytest

EXPECTED_DAGS = {"driftloop_ingest", "driftloop_train", "driftloop_drift_monitor"}
TASK_TIMEOUT_MINUTES = 42
# Tasks that set their own deadline (the approval's wait for a person has its own, 2 days).
OWN_DEADLINES = {("driftloop_train", "train"): timedelta(hours=2)}


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
        mp.setenv("DRIFTLOOP_TASK_TIMEOUT_MINUTES", str(TASK_TIMEOUT_MINUTES))
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


def test_every_task_has_a_deadline_and_backs_off_between_retries(dagbag) -> None:
    """A hung backend fails its task instead of stalling the DAG (max_active_runs=1) for ever."""
    tasks = [(dag_id, task) for dag_id, dag in dagbag.dags.items() for task in dag.tasks]
    assert {dag_id for dag_id, _ in tasks} >= EXPECTED_DAGS | {"driftloop_example_features"}
    for dag_id, task in tasks:
        assert task.execution_timeout, f"{dag_id}.{task.task_id} has no execution_timeout"
        if task.retries:
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id} retries at once"


def test_the_task_deadline_is_the_setting_unless_a_task_sets_its_own(dagbag) -> None:
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            expected = OWN_DEADLINES.get(
                (dag_id, task.task_id), timedelta(minutes=TASK_TIMEOUT_MINUTES)
            )
            assert task.execution_timeout == expected, f"{dag_id}.{task.task_id}"


def test_ingest_wap_order(dagbag) -> None:
    dag = dagbag.dags["driftloop_ingest"]
    assert dag.get_task("stage").downstream_task_ids == {"validate", "publish"}
    assert dag.get_task("validate").downstream_task_ids == {"publish"}
    assert dag.get_task("publish").downstream_task_ids == {"profile"}
    publish = dag.get_task("publish")
    assert [o.name for o in publish.outlets] == ["driftloop_published_data"]
    profile = dag.get_task("profile")
    assert [o.name for o in profile.outlets] == ["driftloop_batch_profiles"]
    assert profile.commit == "{{ ti.xcom_pull(task_ids='publish')['commit_id'] }}"


def test_train_promotion_gates(dagbag) -> None:
    dag = dagbag.dags["driftloop_train"]
    assert dag.get_task("approve").response_timeout == timedelta(days=2)
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


class _RunTaskInstance:
    """The slice of a task instance that resolves an XCom argument: what a run pushed."""

    def __init__(self, pushed: dict[str, object]) -> None:
        self.pushed = pushed

    def xcom_pull(self, *, task_ids: str, key: str, default: object, map_indexes: object) -> object:
        assert key == "return_value" and map_indexes is None
        return self.pushed.get(task_ids, default)


def test_drift_monitor_scores_quality_first_and_drift_even_when_quality_skips(dagbag) -> None:
    """The drift report shows the quality verdict; drift is scored without one too."""
    dag = dagbag.dags["driftloop_drift_monitor"]
    quality, score, gate = (
        dag.get_task(t) for t in ("score_quality", "score_drift", "retrain_gate")
    )
    # A skipped sensor skips the quality check, and with it the drift check.
    assert quality.upstream_task_ids == {"wait_for_profiles"}
    assert quality.trigger_rule == "all_success"
    # Quality skipped (nothing new labelled): drift still runs; quality failed: it does not.
    assert score.upstream_task_ids == {"wait_for_profiles", "score_quality"}
    assert score.trigger_rule == "none_failed_min_one_success"
    assert score.quality.operator is quality
    assert gate.upstream_task_ids == {"score_drift", "score_quality"}
    assert gate.trigger_rule == "none_failed_min_one_success"
    assert (gate.drift.operator, gate.quality.operator) == (score, quality)
    summary = {"degraded": False, "reason": "no quality loss"}
    for pushed, handed in (({}, None), ({"score_quality": summary}, summary)):
        task = copy.copy(score)
        task.render_template_fields({"ti": _RunTaskInstance(pushed)})  # type: ignore[arg-type]
        assert task.quality == handed


def test_drift_monitor_runs_on_batch_profile_events_or_every_ten_minutes(dagbag) -> None:
    dag = dagbag.dags["driftloop_drift_monitor"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.delta == timedelta(minutes=10)
    assets = [(a.name, a.uri) for a in timetable.asset_condition.objects]
    assert assets == [("driftloop_batch_profiles", "driftloop://monitoring/profiles")]
