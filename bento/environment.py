"""Where BentoML keeps its models and Bentos, and the environment of a BentoML process.

Cheap to import (no BentoML): the launcher and the packaging step both start BentoML
processes with this environment, so the child reads the same homes, stores and dataset.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftloop.config import Settings

SERVICE = "bento.service:DriftloopService"
"""The service class ``bentoml serve`` and ``bentoml build`` load."""

PROFILE_PROCESSES = functools.partial(
    ProcessPoolExecutor, 1, mp_context=multiprocessing.get_context("spawn")
)
"""How the service starts its serving profiles' child (``ServingProfiles(processes=...)``):
spawned afresh, as a fork would copy the worker's threads' locks, held or not."""


def bentoml_home(settings: Settings) -> Path:
    """BentoML's home (models and Bentos) under driftloop's home."""
    return settings.home_dir / "bentoml"


def bentoml_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus BentoML's home and driftloop's home, project and dataset.

    Telemetry stays off.
    """
    return {
        **os.environ,
        "BENTOML_HOME": str(bentoml_home(settings)),
        "BENTOML_DO_NOT_TRACK": "True",
        "DRIFTLOOP_HOME": str(settings.home_dir),
        "DRIFTLOOP_PROJECT_DIR": str(settings.project_dir),
        "DRIFTLOOP_DATASET": settings.dataset,
    }
