"""driftloop_train: train on one pinned commit, register with lineage, promote by policy.

resolve the data ref to a commit → train XGBoost (in the task, or on a Dask cluster with
``engine=dask``) and score challenger and champion on the same holdout rows → register the
version (data commit, engine, validation, params, metrics, code version, artifact checksum) →
decide by the promotion policy and the run's mode (auto, require_approval with a human in the
loop, never) → move ``champion`` (audited) → build the Bento of the new champion.

Trigger it from the UI form, or from another DAG with ``{"reason": ...}`` in the run's conf.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param

from driftloop.config.promotion import PROMOTION_MODES
from driftloop.config.training import TRAINING_ENGINES
from driftloop_provider.assets import CHAMPION_MODEL
from driftloop_provider.defaults import task_timeout
from driftloop_provider.train import (
    DecidePromotionOperator,
    PackageModelOperator,
    PromoteModelOperator,
    RegisterModelOperator,
    ResolveDataRefOperator,
    TrainModelOperator,
)

with DAG(
    dag_id="driftloop_train",
    description="Train XGBoost on a pinned data commit, register it, promote it by policy",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["driftloop", "train"],
    render_template_as_native_obj=True,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": task_timeout(),
    },
    params={
        "reason": Param("manual", type="string", title="Why retrain", minLength=1),
        "data_ref": Param(
            "main",
            type="string",
            title="Data ref",
            description="Branch or commit to train on (on main, unless unpublished data is "
            "allowed below)",
            minLength=1,
        ),
        "allow_unpublished_data": Param(
            False,
            type="boolean",
            title="Allow unpublished data",
            description="Train on a ref that is not on main (e.g. a quarantined batch's "
            "branch); the version is marked so in its lineage and never promoted automatically",
        ),
        "promotion_mode": Param(
            "auto",
            type="string",
            enum=list(PROMOTION_MODES),
            title="Promotion mode",
        ),
        "engine": Param(
            None,
            type=["null", "string"],
            enum=[None, *TRAINING_ENGINES],
            title="Training engine",
            description="local: in the task's process; dask: on the Dask cluster's workers "
            "(empty: the deployment's training_engine)",
        ),
        "max_depth": Param(6, type="integer", minimum=1, maximum=16, title="Tree depth"),
        "eta": Param(0.1, type="number", exclusiveMinimum=0, maximum=1, title="Learning rate"),
        "num_boost_round": Param(
            400, type="integer", minimum=1, maximum=5000, title="Boosting rounds"
        ),
        "seed": Param(42, type="integer", title="Seed"),
    },
    doc_md=__doc__,
) as dag:
    resolve = ResolveDataRefOperator(task_id="resolve_data", data_ref="{{ params.data_ref }}")
    train = TrainModelOperator(
        task_id="train",
        data=resolve.output,
        overrides={
            "max_depth": "{{ params.max_depth }}",
            "eta": "{{ params.eta }}",
            "num_boost_round": "{{ params.num_boost_round }}",
            "seed": "{{ params.seed }}",
        },
        allow_unpublished_data="{{ params.allow_unpublished_data }}",
        engine="{{ params.engine }}",
        execution_timeout=timedelta(hours=2),
    )
    register = RegisterModelOperator(task_id="register", candidate=train.output)
    decide = DecidePromotionOperator(
        task_id="decide",
        candidate=train.output,
        registered=register.output,
        mode="{{ params.promotion_mode }}",
        promote_task_id="auto_approve",
    )
    approve = ApprovalOperator(
        task_id="approve",
        subject="Promote {{ ti.xcom_pull('register')['model'] }} version "
        "{{ ti.xcom_pull('register')['version'] }} to champion?",
        body="{{ ti.xcom_pull('decide', key='decision')['reason'] }}",
        response_timeout=timedelta(days=2),
    )
    promote = PromoteModelOperator(
        task_id="promote",
        # Pulled by template, not wired as an XComArg: an edge from register would satisfy
        # "min one success" and promote even when both gates were skipped.
        registered="{{ ti.xcom_pull('register') }}",
        decision="{{ ti.xcom_pull('decide', key='decision') }}",
        trigger_rule="none_failed_min_one_success",
        outlets=[CHAMPION_MODEL],
    )
    package = PackageModelOperator(task_id="package", registered="{{ ti.xcom_pull('register') }}")
    # The branch skips whichever gate it does not follow; promote runs after either.
    auto_approve = EmptyOperator(task_id="auto_approve")
    resolve >> train >> register >> decide >> [approve, auto_approve] >> promote >> package
