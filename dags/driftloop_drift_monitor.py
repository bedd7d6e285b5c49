"""driftloop_drift_monitor: wait for new profiles, score drift, retrain when it matters.

Started by the ingest DAG's batch-profiles Asset event (a run it starts looks once and never
waits) or every 10 minutes, for serving profiles, which come without an event. One run at a
time: an event that comes while a run is active starts one run after it (Airflow keeps the
event queued; several such events make one run).

catch up on batch profiles → wait (deferrable: no worker slot held) for batch or serving
profiles newer than the last check → the champion's quality on the labelled batches it
has not seen (the holdout's metrics with bootstrap intervals, stored per batch; an Asset
event) → per-feature drift against the champion's reference profile, on what the champion
has not seen (KS / chi-square / Hellinger; an Asset event), with a JSON and HTML report
that shows the quality verdict too (it runs when the quality check skipped, nothing new
being labelled, and says so) →
gate: on drift or a quality loss (``monitoring.retrain_on``), alert, and trigger
``driftloop_train`` with the reason, the evidence, the drifted features or batches and
the report when the guards allow it (cooldown, no duplicate retrain, daily budget,
circuit breaker after failed retrains).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, AssetOrTimeSchedule, DeltaTriggerTimetable

from driftloop_provider.assets import BATCH_PROFILES, BATCH_QUALITY, DRIFT_SCORES
from driftloop_provider.defaults import task_timeout
from driftloop_provider.monitoring import (
    ProfileBatchesOperator,
    RetrainGateOperator,
    ScoreDriftOperator,
    SendAlertOperator,
)
from driftloop_provider.notifiers import DriftloopNotifier, RetrainOutcomeNotifier
from driftloop_provider.quality import ScoreQualityOperator
from driftloop_provider.sensors import NewProfileSensor

with DAG(
    dag_id="driftloop_drift_monitor",
    description="Score drift of new batch and serving profiles; retrain on drift, guarded",
    schedule=AssetOrTimeSchedule(
        timetable=DeltaTriggerTimetable(timedelta(minutes=10)), assets=[BATCH_PROFILES]
    ),
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
    quality = ScoreQualityOperator(task_id="score_quality", outlets=[BATCH_QUALITY])
    score = ScoreDriftOperator(
        task_id="score_drift",
        outlets=[DRIFT_SCORES],
        quality=quality.output,
        # A skipped quality check (nothing new labelled) leaves drift to be scored alone.
        trigger_rule="none_failed_min_one_success",
    )
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        drift=score.output,
        quality=quality.output,
        # Either check may skip (nothing new for it) while the other has a verdict.
        trigger_rule="none_failed_min_one_success",
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
    profile >> wait >> quality >> score >> gate >> [retrain, alert]
    wait >> score  # the sensor's success lets drift be scored when the quality check skips
    quality >> gate
