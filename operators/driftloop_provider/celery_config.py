"""The Celery app's configuration for driftloop's workers: Airflow's own, plus the preload.

``[celery] celery_config_options = driftloop_provider.celery_config.CELERY_CONFIG`` (set by
``driftloop up`` and the compose file) has Airflow import this module when it creates its
Celery app. A Celery worker loads no Airflow plugin before it forks its pool, so the plugin's
preload used to run in every task process instead, importing GX, whylogs and XGBoost for
seconds per task. Here it runs on Celery's ``import_modules`` signal, in the worker before
the fork, where ``DRIFTLOOP_PRELOAD_TASK_MODULES=1`` asks for it
(:mod:`driftloop_provider.preload`).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

from driftloop_provider import preload

CELERY_CONFIG = DEFAULT_CELERY_CONFIG
"""Airflow's default Celery configuration, unchanged."""


@import_modules.connect
def preload_task_modules(*args: Any, **kwargs: Any) -> None:
    """Import what driftloop's tasks need, once, in a worker that was asked to."""
    if preload.wanted():
        preload.preload()
