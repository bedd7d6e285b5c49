"""The monitoring core stays Airflow-free and loads whylogs only when it profiles."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "driftloop.monitoring",
    "driftloop.config.monitoring",
    "driftloop.monitoring.profiles",
    "driftloop.monitoring.drift",
    "driftloop.monitoring.steps",
    "driftloop.monitoring.guards",
    "driftloop.monitoring.alerts",
]


def test_monitoring_imports_neither_airflow_nor_whylogs() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in MODULES)
        + "bad = sorted(m for m in sys.modules\n"
        + "             if m.split('.')[0] in {'airflow', 'bentoml', 'whylogs', 'scipy'})\n"
        + "print(bad)\nsys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
