"""The processes tasks fork from import the tasks' modules once, and only those processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from driftloop.launcher.stack import CELERY_CONFIG, PRELOAD_ENV
from driftloop_provider import preload

CHECK = (
    "import json, sys; sys.path.insert(0, {plugins!r}); import driftloop_plugin; "
    "print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
)


# What a Celery worker does before it forks its pool: create Airflow's app (which imports the
# configured celery_config_options) and send Celery's import_modules signal.
CELERY_CHECK = (
    "import json, sys; from celery.signals import import_modules; "
    "from airflow.providers.celery.executors import celery_executor_utils; "
    "import_modules.send(sender=celery_executor_utils.app); "
    "print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
)


def _loaded_after_plugin(repo_dir: Path, *, wanted: bool) -> list[str]:
    code = CHECK.format(plugins=str(repo_dir / "plugins"), modules=list(preload.MODULES))
    return _loaded(code, wanted=wanted)


def _loaded_in_celery_worker(*, wanted: bool) -> list[str]:
    return _loaded(CELERY_CHECK.format(modules=list(preload.MODULES)), wanted=wanted)


def _loaded(code: str, *, wanted: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != preload.ENV}
    env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = CELERY_CONFIG
    if wanted:
        env[preload.ENV] = "1"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_launcher_and_the_plugin_name_the_same_variable() -> None:
    assert PRELOAD_ENV == preload.ENV


def test_the_plugin_preloads_only_where_asked(repo_dir: Path) -> None:
    assert _loaded_after_plugin(repo_dir, wanted=True) == sorted(preload.MODULES)
    assert "great_expectations" not in _loaded_after_plugin(repo_dir, wanted=False)


def test_a_celery_worker_preloads_before_its_pool_forks_only_where_asked() -> None:
    assert _loaded_in_celery_worker(wanted=True) == sorted(preload.MODULES)
    assert "great_expectations" not in _loaded_in_celery_worker(wanted=False)
