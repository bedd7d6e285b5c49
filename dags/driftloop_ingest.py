"""driftloop_ingest: each data interval is one batch, staged, validated and published (WAP).

extract the batch → commit it to ``ingest-<dataset>-<batch>`` → validate with the GX suite →
merge into ``main`` and emit the published-data Asset → profile it (whylogs) and emit the
batch-profiles Asset, which starts the drift monitor (a re-run with nothing new to profile
skips that step and sends no event). A failed batch stops at validation: its branch stays
as quarantine with the reasons, and ``main`` is untouched.

Trigger with ``{"path": "..."}`` in the run's conf to ingest one file instead: absolute or
relative to the landing zone, and inside it or a folder of the ``ingest_roots`` setting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from driftloop_provider.assets import BATCH_PROFILES, PUBLISHED_DATA
from driftloop_provider.defaults import task_timeout
from driftloop_provider.ingest import (
    PublishBatchOperator,
    StageBatchOperator,
    ValidateBatchOperator,
)
from driftloop_provider.monitoring import ProfileBatchesOperator

with DAG(
    dag_id="driftloop_ingest",
    description="Stage, validate (GX) and publish (lakeFS-style merge) one batch per interval",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["driftloop", "ingest"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": task_timeout(),
    },
    params={
        "path": Param(
            None,
            type=["null", "string"],
            title="File to ingest",
            description="A CSV or Parquet file to ingest instead of the interval's batch, in "
            "the landing zone (a relative path is taken from it) or an ingest root",
        ),
    },
    doc_md=__doc__,
) as dag:
    stage = StageBatchOperator(task_id="stage", path="{{ params.path or '' }}")
    validate = ValidateBatchOperator(task_id="validate", batch=stage.output)
    publish = PublishBatchOperator(
        task_id="publish", batch=stage.output, validation=validate.output, outlets=[PUBLISHED_DATA]
    )
    profile = ProfileBatchesOperator(
        task_id="profile",
        commit="{{ ti.xcom_pull(task_ids='publish')['commit_id'] }}",
        outlets=[BATCH_PROFILES],
    )
    stage >> validate >> publish >> profile
