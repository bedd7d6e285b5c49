"""Per-task wall time and peak RSS, measured inside the process that runs each task.

Loaded only by ``benchmarks.pipeline`` (``AIRFLOW__CORE__PLUGINS_FOLDER`` points at this
folder for its runs). The task runner calls these listener hooks in the task's own process:
the process of ``airflow dags test`` itself, or the task process an executor starts. At task
start the process's peak RSS is reset to its current RSS; at the end the peak, the RSS at
start and the wall time between the two hooks are appended as a JSON line to the file named
by ``DRIFTLOOP_BENCH_TASK_LOG``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from benchmarks.common import StepMeter

LOG_VARIABLE = "DRIFTLOOP_BENCH_TASK_LOG"


class TaskMemoryListener:
    """Starts a :class:`StepMeter` step when a task runs and records it when it ends."""

    def __init__(self) -> None:
        self._meter: StepMeter | None = None

    def _name(self, task_instance: Any) -> str:
        return f"{task_instance.dag_id}.{task_instance.task_id}"

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        """Reset the peak and start the clock."""
        path = os.environ.get(LOG_VARIABLE)
        if path:
            self._meter = self._meter or StepMeter(Path(path))
            self._meter.start(self._name(task_instance))

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        """Record a task that succeeded."""
        self._finish(task_instance, "success")

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        """Record a task that skipped itself."""
        self._finish(task_instance, "skipped")

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        """Record a task that failed."""
        self._finish(task_instance, "failed")

    def _finish(self, task_instance: Any, state: str) -> None:
        if self._meter is not None:
            self._meter.finish(self._name(task_instance), state)


class TaskMemoryPlugin(AirflowPlugin):
    """Registers :class:`TaskMemoryListener`."""

    name = "driftloop_task_memory"
    listeners = [TaskMemoryListener()]  # noqa: RUF012 (Airflow reads this class attribute)
