"""driftloop_example_features: ingest a file, derive affordability features, train on it.

An example of a custom operator wired between driftloop's own: see docs/custom-operators.md.
Paused when it first appears; trigger it with ``{"path": "<a CSV of applications>"}``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Param
from examples.affordability import AffordabilityFeaturesOperator

from driftloop_provider.defaults import task_timeout
from driftloop_provider.ingest import (
    PublishBatchOperator,
    StageBatchOperator,
    ValidateBatchOperator,
)
from driftloop_provider.train import (
    RegisterModelOperator,
    ResolveDataRefOperator,
    TrainModelOperator,
)

with DAG(
    dag_id="driftloop_example_features",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["driftloop", "example"],
    default_args={"execution_timeout": task_timeout()},
    params={"path": Param(type="string", title="CSV file of applications to ingest")},
    doc_md=__doc__,
) as dag:
    stage = StageBatchOperator(task_id="stage", path="{{ params.path }}")
    validate = ValidateBatchOperator(task_id="validate", batch=stage.output)
    publish = PublishBatchOperator(
        task_id="publish", batch=stage.output, validation=validate.output
    )
    features = AffordabilityFeaturesOperator(task_id="affordability")
    resolve = ResolveDataRefOperator(task_id="resolve_data", data_ref="main")
    train = TrainModelOperator(
        task_id="train", data=resolve.output, overrides={"num_boost_round": 50}
    )
    register = RegisterModelOperator(task_id="register", candidate=train.output)
    publish >> features >> resolve
    train >> register
