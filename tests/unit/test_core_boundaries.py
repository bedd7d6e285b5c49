"""The core library stays Airflow-free and BentoML-free at import time."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "driftloop",
    "driftloop.cli",
    "driftloop.config",
    "driftloop.ingest",
    "driftloop.orchestration",
    "driftloop.runs",
    "driftloop.spec",
    "driftloop.versioning.factory",
    "driftloop.versioning.local",
    "driftloop.versioning.lakefs",
    "driftloop.data.sources",
    "driftloop.data.synthetic",
    "driftloop.validation",
    "driftloop.inference",
    "driftloop.registry",
    "driftloop.features",
    "driftloop.promotion",
    "driftloop.training",
    "driftloop.train_steps",
    "driftloop.model_commands",
    "driftloop.demo",
    "driftloop.stack",
    "driftloop.serving",
    "driftloop.packaging",
    "driftloop.serving_profiles",
    "driftloop.monitoring",
]


def test_core_imports_neither_airflow_nor_bentoml() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE_MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'airflow', 'bentoml'})\n"
        + "print(bad)\nsys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_telemetry_is_off_once_driftloop_is_imported() -> None:
    code = (
        "import os, driftloop\n"
        "print(os.environ['GX_ANALYTICS_ENABLED'], os.environ['BENTOML_DO_NOT_TRACK'],"
        " os.environ['WHYLOGS_NO_ANALYTICS'])"
    )
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in {"GX_ANALYTICS_ENABLED", "BENTOML_DO_NOT_TRACK", "WHYLOGS_NO_ANALYTICS"}
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.split() == ["false", "True", "1"]
