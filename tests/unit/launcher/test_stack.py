"""The stack's Celery mode, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher.stack import AirflowStack, CeleryWorker, StackError, node_hostname


def test_celery_workers_without_a_broker_are_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW__CELERY__BROKER_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql://x@127.0.0.1/x")
    stack = AirflowStack(Settings(home=tmp_path), workers=(CeleryWorker("alpha"),))

    assert stack.executor == "CeleryExecutor"
    with pytest.raises(StackError, match="AIRFLOW__CELERY__BROKER_URL") as caught:
        stack.start()
    assert "RESULT_BACKEND" not in str(caught.value)
    assert not stack.processes


def test_without_workers_the_stack_runs_the_local_executor(tmp_path: Path) -> None:
    assert AirflowStack(Settings(home=tmp_path)).executor == "LocalExecutor"


def test_a_worker_names_itself_to_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = CeleryWorker("beta")
    monkeypatch.setenv("DRIFTLOOP_NODE_NAME", worker.node())

    assert node_hostname() == worker.node()
    assert worker.node().startswith("beta@")
