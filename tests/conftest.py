"""Test-wide environment: every store under a fresh temporary home, Airflow without examples."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="driftloop-tests-"))

# Set before anything imports Airflow or driftloop's settings.
os.environ.update(
    {
        "DRIFTLOOP_HOME": str(_HOME / "home"),
        "DRIFTLOOP_PROJECT_DIR": str(REPO),
        "AIRFLOW_HOME": str(_HOME / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    }
)


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The project checkout."""
    return REPO
