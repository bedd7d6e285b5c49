"""Late labels landed through the real ingest DAG under their own spec, then joined by quality.

The home holds a champion of ``credit_risk`` and a batch published with half its rows
unlabelled. The labels of those rows arrive as a file of the labels-only dataset
``credit_risk_labels`` (``DRIFTLOOP_DATASET=credit_risk_labels``, as ``driftloop ingest``
runs it): Airflow runs ``driftloop_ingest`` (``dag.test()``), which validates the file with
its own suite and publishes it without profiling it; the quality check then scores the
batch again on all its rows, and training at the new commit trains on them too. A labels file
with a repeated id and an unknown label is quarantined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from driftloop.config import Settings
from driftloop.config.monitoring import MonitoringSettings, QualityPolicy
from driftloop.data.sources import read_parquet_bytes
from driftloop.monitoring.quality import QualityStore
from driftloop.registry import Registry
from driftloop.spec import DatasetSpec, load_spec
from driftloop.training import TrainingParams
from driftloop.training.quality import check_quality
from driftloop.training.steps import fit_locally
from driftloop.versioning.base import VersionStore
from driftloop_provider.testing import DagRunResult
from tests.support.serving import train_version
from tests.unit.monitoring.conftest import make_batch, publish_batch

pytestmark = pytest.mark.integration

LABELS = "credit_risk_labels"
DAY, ROWS = 3, 2000


@dataclass
class Home:
    settings: Settings
    store: VersionStore
    registry: Registry
    quality: QualityStore
    spec: DatasetSpec
    key: str


@pytest.fixture
def home(driftloop_settings: Settings, driftloop_store: VersionStore) -> Iterator[Home]:
    """A champion of credit_risk, and a batch it has not seen with half its rows unlabelled."""
    settings = driftloop_settings.model_copy(
        update={"monitoring": MonitoringSettings(quality=QualityPolicy(resamples=20))}
    )
    spec = load_spec(settings.dataset_spec_path)
    train_version(settings, day=0)
    key = publish_batch(
        driftloop_store, spec, DAY, rows=ROWS, corruption={"null_fraction": {spec.target: 0.5}}
    )
    registry = Registry(url=settings.registry_database_url)
    quality = QualityStore(url=settings.registry_database_url)
    yield Home(settings, driftloop_store, registry, quality, spec, key)
    quality.close()
    registry.close()


@pytest.fixture
def ingest_labels(
    run_dag: Callable[..., DagRunResult], repo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Path], DagRunResult]:
    """Run driftloop_ingest on one file under the labels dataset's spec."""
    monkeypatch.setenv("DRIFTLOOP_DATASET", LABELS)

    def ingest(path: Path) -> DagRunResult:
        return run_dag(repo_dir / "dags" / "driftloop_ingest.py", conf={"path": str(path)})

    return ingest


def _check(home: Home):
    return check_quality(home.store, home.registry, home.quality, home.spec, home.settings)


def _late_labels(home: Home) -> pd.DataFrame:
    """The true labels of the published batch's unlabelled rows: id and target."""
    spec = home.spec
    path = f"data/{spec.name}/{home.key}.parquet"
    published = read_parquet_bytes(home.store.read_object("main", path), label=path)
    unlabelled = published.loc[published[spec.target].isna(), spec.id_column]
    truth = make_batch(DAY, rows=ROWS).set_index(spec.id_column)[spec.target]
    return pd.DataFrame({spec.id_column: unlabelled, spec.target: unlabelled.map(truth)})


def test_late_labels_land_through_the_ingest_dag_and_rescore_the_batch(
    home: Home, ingest_labels, caplog: pytest.LogCaptureFixture
) -> None:
    (before,) = _check(home).scored
    assert 800 < before.labelled_rows < 1200 and before.rows == ROWS
    labels = _late_labels(home)
    path = home.settings.landing_dir / "labels_late.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels.to_csv(path, index=False)

    with caplog.at_level(logging.INFO, logger="driftloop.monitoring.steps"):
        run = ingest_labels(path)

    assert run.state == "success", run.task_states
    assert run.task_states == {
        "stage": "success",
        "validate": "success",
        "publish": "success",
        "profile": "skipped",  # no features, no drift: no event wakes the monitor
    }
    assert "credit_risk_labels is a labels-only dataset" in caplog.text
    published = run.xcoms["publish"]
    assert published["path"].startswith(f"data/{LABELS}/file-")
    assert published["rows"] == len(labels)
    assert home.store.resolve("main") == published["commit_id"]
    landed = read_parquet_bytes(home.store.read_object("main", published["path"]), label="labels")
    assert list(landed.columns) == [home.spec.id_column, home.spec.target]
    monitoring = home.settings.monitoring.branch
    assert not home.store.list_objects(monitoring, f"monitoring/{LABELS}/")

    (after,) = _check(home).scored
    assert after.batch_commit == before.batch_commit
    assert after.labelled_rows == ROWS
    assert after.labels_commit == published["commit_id"]
    assert home.quality.results(home.spec.name) == [after]

    # Training at each commit joins the labels landed by then; rows still unlabelled wait.
    rows = {
        commit: fit_locally(
            home.store, home.spec, commit, TrainingParams(num_boost_round=2), settings=home.settings
        ).rows
        for commit in (before.labels_commit, published["commit_id"])
    }
    assert rows[published["commit_id"]] - rows[before.labels_commit] == ROWS - before.labelled_rows


def test_a_labels_file_with_a_repeated_id_or_an_unknown_label_is_quarantined(
    home: Home, ingest_labels
) -> None:
    from driftloop.ingest.quarantine import read_quarantine_note

    labels = _late_labels(home).head(50).reset_index(drop=True)
    labels.loc[1, home.spec.id_column] = labels.loc[0, home.spec.id_column]
    labels.loc[2, home.spec.target] = "maybe"
    path = home.settings.landing_dir / "labels_bad.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels.to_csv(path, index=False)
    head = home.store.resolve("main")

    run = ingest_labels(path)

    assert run.state == "failed"
    assert run.task_states["validate"] == "failed"
    assert run.task_states["publish"] == run.task_states["profile"] == "upstream_failed"
    assert home.store.resolve("main") == head
    assert not home.store.list_objects("main", f"data/{LABELS}/")
    key = run.xcoms["stage"]["key"]
    message = read_quarantine_note(home.store, LABELS, key)["message"]
    assert "column 'application_id': 2 rows repeat a value" in message
    assert "target 'default': 1 value not in ['no', 'yes'], e.g. 'maybe'" in message
