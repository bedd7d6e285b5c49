"""driftloop_drift_monitor: wait for new profiles, score drift, retrain when it matters.

catch up on batch profiles → wait (deferrable: no worker slot held) for batch or serving
profiles newer than the last check → score per-feature drift against the champion's
reference profile, on what the champion has not seen (KS / chi-square / Hellinger; JSON
and HTML report; an Asset event) →
gate: on drift, alert, and trigger ``driftloop_train`` with the reason, the drifted features
and the report when the guards allow it (cooldown, no duplicate retrain, daily budget,
circuit breaker after failed retrains).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG

from driftloop_provider.assets import DRIFT_SCORES
from driftloop_provider.defaults import task_timeout
from driftloop_provider.monitoring import (
    ProfileBatchesOperator,
    RetrainGateOperator,
    ScoreDriftOperator,
    SendAlertOperator,
)
from driftloop_provider.notifiers import DriftloopNotifier, RetrainOutcomeNotifier
from driftloop_provider.sensors import NewProfileSensor

with DAG(
    dag_id="driftloop_drift_monitor",
    description="Score drift of new batch and serving profiles; retrain on drift, guarded",
    schedule=timedelta(minutes=10),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["driftloop", "monitoring"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": task_timeout(),
    },
    on_failure_callback=DriftloopNotifier(
        event="monitor_failed",
        title="driftloop drift monitor failed",
        message="A drift monitor run failed; see its task logs.",
    ),
    doc_md=__doc__,
) as dag:
    profile = ProfileBatchesOperator(task_id="profile_batches")
    wait = NewProfileSensor(
        task_id="wait_for_profiles", poke_interval=15, timeout=3600, soft_fail=True
    )
    score = ScoreDriftOperator(task_id="score_drift", outlets=[DRIFT_SCORES])
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        drift=score.output,
        retrain_task_id="trigger_retrain",
        alert_task_id="alert",
        train_dag_id="driftloop_train",
    )
    retrain = TriggerDagRunOperator(
        task_id="trigger_retrain",
        trigger_dag_id="driftloop_train",
        conf=gate.output["retrain_conf"],
        wait_for_completion=True,
        deferrable=True,
        poke_interval=15,
        on_success_callback=RetrainOutcomeNotifier(success=True),
        on_failure_callback=RetrainOutcomeNotifier(success=False),
    )
    alert = SendAlertOperator(task_id="alert", alert=gate.output["alert"])
    profile >> wait >> score >> gate >> [retrain, alert]
