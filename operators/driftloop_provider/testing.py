"""A pytest plugin for testing operators built on driftloop: fixtures and a real DAG runner.

Installed with driftloop (entry point ``pytest11``), so its fixtures are there in any test:

- ``driftloop_settings``: driftloop under a fresh temporary home (the embedded local store,
  a SQLite registry), also seen by ``get_settings()`` inside your operators;
- ``driftloop_spec``, ``driftloop_store`` (its repository created) and ``driftloop_registry``;
- ``driftloop_batch``: one synthetic batch of the demo dataset, published on ``main`` through
  the real ingest steps (stage, validate, publish);
- ``lineage_events``: the OpenLineage events your DAG runs emit;
- ``run_dag``: runs a DAG file through Airflow's own ``dag.test()``.

The fixtures use the dataset spec of your settings (``DRIFTLOOP_DATASET_SPEC``, or the demo's
``credit_risk``); ``driftloop_batch`` generates demo rows, so override it for another spec.

The plugin also sends OpenLineage events to a file for the whole session (the provider's
``file`` transport), unless OpenLineage is configured already; and ``run_dag`` needs the
DAG's folder as Airflow's DAG folder before Airflow first reads its configuration (set
``AIRFLOW__CORE__DAGS_FOLDER`` in the environment, or let the plugin set it from the
``driftloop_dags_folder`` ini option).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

TRANSPORT_VARIABLE = "AIRFLOW__OPENLINEAGE__TRANSPORT"
OPENLINEAGE_VARIABLES = (TRANSPORT_VARIABLE, "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``driftloop_dags_folder`` ini option."""
    parser.addini(
        "driftloop_dags_folder",
        "Airflow's DAG folder for run_dag (unless AIRFLOW__CORE__DAGS_FOLDER is set)",
        default=None,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow at the DAG folder and OpenLineage at a file, before Airflow reads them.

    The DAG folder also goes on ``sys.path``, as Airflow puts it there for DAG files, so tests
    import the modules beside the DAGs the way the DAGs do.
    """
    folder = config.getini("driftloop_dags_folder")
    if folder and "AIRFLOW__CORE__DAGS_FOLDER" not in os.environ:
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(config.rootpath, folder).resolve())
    if os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"):
        sys.path.append(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if not any(os.environ.get(name) for name in OPENLINEAGE_VARIABLES):
        events = Path(tempfile.mkdtemp(prefix="driftloop-lineage-")) / "events.jsonl"
        os.environ[TRANSPORT_VARIABLE] = json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        )


@dataclass
class LineageEvents:
    """The OpenLineage events written to the session's file since the fixture began."""

    path: Path
    start: int = 0
    _events: list[dict[str, Any]] = field(default_factory=list)

    def all(self) -> list[dict[str, Any]]:
        """Every event since the fixture began, oldest first."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as lines:
            lines.seek(self.start)
            return [json.loads(line) for line in lines if line.strip()]

    def completed(self, job: str) -> list[dict[str, Any]]:
        """The COMPLETE and FAIL events of one job (``<dag_id>.<task_id>``)."""
        return [
            event
            for event in self.all()
            if event["job"]["name"] == job and event["eventType"] in ("COMPLETE", "FAIL")
        ]


@pytest.fixture()
def lineage_events() -> LineageEvents:
    """The OpenLineage events emitted from now on (the plugin's file transport)."""
    transport = json.loads(os.environ.get(TRANSPORT_VARIABLE) or "{}")
    if transport.get("type") != "file":
        pytest.skip("OpenLineage sends events elsewhere than a file in this session")
    path = Path(transport["log_file_path"])
    return LineageEvents(path=path, start=path.stat().st_size if path.exists() else 0)


@pytest.fixture()
def driftloop_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings of driftloop under a fresh home: the local store, a SQLite registry."""
    from driftloop.config import get_settings

    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "driftloop"))
    monkeypatch.setenv("DRIFTLOOP_VERSIONING_BACKEND", "local")
    for name in ("REGISTRY_URL", "REGISTRY_CONN_ID", "LAKEFS_CONN_ID"):
        monkeypatch.delenv(f"DRIFTLOOP_{name}", raising=False)
    return get_settings()


@pytest.fixture()
def driftloop_spec(driftloop_settings: Settings) -> DatasetSpec:
    """The dataset spec the settings name."""
    from driftloop.spec import load_spec

    return load_spec(driftloop_settings.dataset_spec_path)


@pytest.fixture()
def driftloop_store(driftloop_settings: Settings) -> VersionStore:
    """The embedded versioned store, its repository created with an empty ``main``."""
    from driftloop.versioning.factory import open_store

    store = open_store(driftloop_settings)
    store.ensure_repository(driftloop_settings.main_branch)
    return store


@pytest.fixture()
def driftloop_registry(driftloop_settings: Settings) -> Registry:
    """The model registry (SQLite under the home), its schema current."""
    from driftloop.registry import open_registry

    return open_registry(driftloop_settings.registry_database_url)


@pytest.fixture()
def driftloop_batch(driftloop_settings: Settings, driftloop_store: VersionStore) -> str:
    """One day of demo rows published on ``main``; returns main's head commit."""
    return publish_synthetic_days(
        driftloop_settings, start=date(2026, 1, 1), days=1, rows=1000, store=driftloop_store
    )


def publish_synthetic_days(
    settings: Settings,
    *,
    start: date,
    days: int,
    rows: int,
    seed: int = 5,
    store: VersionStore | None = None,
) -> str:
    """Generate ``days`` daily demo batches and publish each through the ingest steps.

    Returns:
        ``main``'s head commit after the last batch.

    Raises:
        AssertionError: a batch failed validation.
    """
    from driftloop.data.sources import Interval
    from driftloop.data.synthetic import GeneratorConfig, generate_batches
    from driftloop.ingest.steps import publish_batch, stage_batch, validate_batch
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = store or open_store(settings)
    generate_batches(
        GeneratorConfig(seed=seed, rows_per_batch=rows),
        start=start,
        days=days,
        out_dir=settings.landing_dir,
    )
    head = ""
    for offset in range(days):
        day = datetime.combine(start + timedelta(days=offset), datetime.min.time(), UTC)
        interval = Interval(start=day, end=day + timedelta(days=1))
        batch = stage_batch(store, spec, settings=settings, interval=interval, run_id="seed")
        report = validate_batch(store, spec, batch, settings=settings)
        assert report.success, report.describe(batch.source)
        head = publish_batch(store, batch, report.statistics, settings=settings, run_id="seed")
    return head


@dataclass(frozen=True)
class DagRunResult:
    """How a ``run_dag`` run ended: its state, and each task's state and return value."""

    state: str
    task_states: dict[str, str]
    xcoms: dict[str, Any]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database, migrated once per session."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture()
def run_dag(airflow_db: None) -> Callable[..., DagRunResult]:
    """:func:`run_dag_file`, with Airflow's metadata database ready."""
    return run_dag_file


def run_dag_file(
    dag_file: Path, *, dag_id: str | None = None, conf: dict[str, Any] | None = None
) -> DagRunResult:
    """Import ``dag_file``, run its DAG (or ``dag_id``) with ``dag.test()``, report the run.

    The file must be in Airflow's DAG folder (``AIRFLOW__CORE__DAGS_FOLDER``): ``dag.test()``
    finds the DAG there to serialize it, as the DAG processor would.

    Raises:
        ValueError: the file is outside Airflow's DAG folder, or holds no such DAG.
    """
    from airflow.configuration import conf as airflow_conf
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(airflow_conf.get("core", "dags_folder")).resolve()
    path = Path(dag_file).resolve()
    if not path.is_relative_to(folder):
        raise ValueError(
            f"{path} is outside Airflow's DAG folder {folder}: set AIRFLOW__CORE__DAGS_FOLDER "
            "(or the driftloop_dags_folder ini option) before the session starts"
        )
    bag = DagBag(dag_folder=str(path))
    if bag.import_errors:
        raise ValueError(f"{path} does not import: {bag.import_errors}")
    dags = list(bag.dags.values()) if dag_id is None else [bag.dags.get(dag_id)]
    if len(dags) != 1 or dags[0] is None:
        raise ValueError(f"{path} holds DAGs {sorted(bag.dags)}; name one with dag_id")
    run = dags[0].test(run_conf=conf)
    instances = run.get_task_instances()
    return DagRunResult(
        state=str(run.state),
        task_states={ti.task_id: str(ti.state) for ti in instances},
        xcoms={ti.task_id: ti.xcom_pull(task_ids=ti.task_id) for ti in instances},
    )
