"""Import what driftloop's tasks need once, in the process their task processes fork from.

Airflow 3 runs each task in a process forked from the executor's worker (the LocalExecutor's
workers are forked from the scheduler, Celery's pool processes from the Celery worker), and
the task then imports what its operator needs: GX alone takes about 3 s, pandas, PyArrow,
whylogs and XGBoost more. Imported before the fork, they come with it for free.

:func:`preload` runs in a process only when ``DRIFTLOOP_PRELOAD_TASK_MODULES=1`` is set for it
(``driftloop up`` sets it for the scheduler and the Celery workers, the compose file too):
the api-server, dag-processor and triggerer never run a task and keep their memory.
"""

from __future__ import annotations

import importlib
import os
import time

ENV = "DRIFTLOOP_PRELOAD_TASK_MODULES"

MODULES = (
    "driftloop_provider.ingest",
    "driftloop_provider.train",
    "driftloop_provider.monitoring",
    "driftloop.ingest.steps",
    "driftloop.validation.runner",
    "great_expectations",
    "driftloop.monitoring.steps",
    "driftloop.training.steps",
    "xgboost",
    "airflow.providers.openlineage.extractors",
    "openlineage.client.event_v2",
    "openlineage.client.generated.dataset_version_dataset",
    "openlineage.client.generated.data_quality_assertions_dataset",
    "openlineage.client.generated.data_quality_metrics_input_dataset",
)
"""The operators, what their ``execute()`` imports (``validation.runner`` imports GX lazily),
and the OpenLineage facets :mod:`driftloop_provider.lineage` builds at the end of each task."""


def wanted() -> bool:
    """Whether this process was asked to preload (``DRIFTLOOP_PRELOAD_TASK_MODULES=1``)."""
    return os.environ.get(ENV) == "1"


def preload() -> float:
    """Import :data:`MODULES`; return the seconds it took."""
    began = time.perf_counter()
    for name in MODULES:
        importlib.import_module(name)
    return time.perf_counter() - began
