"""Training settings: where ``driftloop_train`` trains, and the Dask cluster it may use.

The one home of the engine names: the train DAG's form, the operators, the CLI, the registry's
lineage and the core all read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

TrainingEngine = Literal["local", "dask"]
"""``local``: in the task's own process; ``dask``: on the workers of a Dask cluster."""
TRAINING_ENGINES: tuple[TrainingEngine, ...] = get_args(TrainingEngine)


class DaskSettings(BaseModel):
    """The Dask cluster of the ``dask`` engine (or an Airflow connection, ``dask_conn_id``)."""

    model_config = ConfigDict(extra="forbid")

    scheduler_address: str | None = Field(
        default=None, description="The scheduler, e.g. tcp://dask-scheduler:8786"
    )
    connect_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long to wait for the scheduler to answer"
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="Train on this many of the cluster's workers (default: every worker); "
        "the same number gives the same model (see docs/deploy.md)",
    )
