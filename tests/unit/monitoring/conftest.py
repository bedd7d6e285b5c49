"""Monitoring fixtures: the demo spec, generated batches, their profiles, stores, a registry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftloop.config import Settings
from driftloop.config.monitoring import MonitoringSettings
from driftloop.data.sources import to_parquet_bytes
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.monitoring.profiles import profile_frame
from driftloop.registry import Registry, VersionLineage
from driftloop.spec import DatasetSpec, load_spec
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from tests.support.lakefs_standin import LakeFSStandIn
from tests.unit.versioning.conftest import lakefs_settings

REPO = Path(__file__).resolve().parents[3]
ROWS = 10_000
BATCH_ROWS = 4_000


def make_batch(day: int, rows: int = ROWS, **drift: object) -> pd.DataFrame:
    """One generated batch for 2024-01-<day>; ``drift`` goes to ``GeneratorConfig``."""
    start = datetime(2024, 1, day, tzinfo=UTC)
    config = GeneratorConfig(rows_per_batch=rows, **drift)  # type: ignore[arg-type]
    return generate_batch(config, start=start, end=start + timedelta(days=1))


@pytest.fixture(scope="session")
def spec() -> DatasetSpec:
    return load_spec(REPO / "expectations" / "credit_risk.yaml")


@pytest.fixture(scope="session")
def reference_profile(spec: DatasetSpec) -> bytes:
    """10k rows of the undrifted distribution."""
    return profile_frame(make_batch(1), spec)


@pytest.fixture(scope="session")
def same_profile(spec: DatasetSpec) -> bytes:
    """Another 10k rows of the same distribution."""
    return profile_frame(make_batch(2), spec)


@pytest.fixture(scope="session")
def income_shift_profile(spec: DatasetSpec) -> bytes:
    """10k rows with income shifted by half a standard deviation."""
    return profile_frame(make_batch(2, shift={"income": 0.5}), spec)


@pytest.fixture(scope="session")
def new_category_profile(spec: DatasetSpec) -> bytes:
    """10k rows where about 10% of loans have the unseen purpose "crypto"."""
    return profile_frame(make_batch(2, new_categories={"purpose": ["crypto"]}), spec)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with every store under ``tmp_path``; profiles count as soon as written."""
    return Settings(
        home=tmp_path / "home",
        project_dir=REPO,
        registry_url=None,
        monitoring=MonitoringSettings(settle_seconds=0),
    )


@pytest.fixture
def local_store(settings: Settings) -> VersionStore:
    store = open_store(settings)
    store.ensure_repository(settings.main_branch)
    return store


@pytest.fixture(scope="session")
def lakefs_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSStandIn]:
    with LakeFSStandIn(data_dir=tmp_path_factory.mktemp("lakefs-standin")) as standin:
        yield standin


@pytest.fixture(params=["local", "lakefs-standin"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> VersionStore:
    """A ready repository on each backend the store helpers must work with."""
    if request.param == "local":
        settings = Settings(home=tmp_path, versioning_backend="local")
    else:
        standin: LakeFSStandIn = request.getfixturevalue("lakefs_standin")
        repository = f"test-{uuid.uuid4().hex[:12]}"
        settings = lakefs_settings(
            tmp_path,
            endpoint=standin.endpoint,
            key=standin.access_key_id,
            secret=standin.secret_access_key,
            repository=repository,
            namespace=f"local://standin/{repository}",
        )
    store = open_store(settings)
    store.ensure_repository("main")
    return store


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    yield registry
    registry.close()


def lineage(data_commit: str = "c0ffee01") -> VersionLineage:
    """A lineage as training records it; monitoring reads only ``data_commit``."""
    return VersionLineage(
        data_commit=data_commit,
        data_ref="main",
        validation={"success": True},
        params={"max_depth": 4},
        metrics={"roc_auc": 0.8},
        code_version="test",
        artifact_uri="models/credit_risk/run/model.ubj",
        artifact_commit="a11ce5",
        artifact_sha256="9" * 64,
        feature_schema={"features": []},
    )


def publish_batch(
    store: VersionStore,
    spec: DatasetSpec,
    day: int,
    *,
    rows: int = BATCH_ROWS,
    warnings: list[dict[str, object]] | None = None,
    **drift: object,
) -> str:
    """Publish a batch to main the way the ingest DAG does: a merge with the interval.

    The stage commit names the batch too, as ingest's does: the publish merge, newer,
    is the one whose ``validation_warnings`` count.
    """
    start = datetime(2024, 1, day, tzinfo=UTC)
    key = start.strftime("%Y-%m-%dT%H%MZ")
    branch = f"ingest-{spec.name}-{key}"
    store.create_branch(branch, "main")
    store.write_object(
        branch,
        f"data/{spec.name}/{key}.parquet",
        to_parquet_bytes(make_batch(day, rows=rows, **drift)),
    )
    store.commit(branch, f"Stage {key}", {"dataset": spec.name, "batch": key})
    metadata = {
        "dataset": spec.name,
        "batch": key,
        "rows": str(rows),
        "interval_start": start.isoformat(),
        "interval_end": (start + timedelta(days=1)).isoformat(),
    }
    if warnings is not None:
        metadata["validation_warnings"] = json.dumps(warnings)
    store.merge(branch, "main", f"Publish {key}", metadata)
    return key


def quality_summary(
    *, degraded: bool, batch: str = "2024-01-03T0000Z", reason: str | None = None
) -> dict[str, Any]:
    """The summary the monitor's quality task returns: one batch of 4000 labelled rows scored.

    The champion's holdout roc_auc is 0.8; degraded, the batch scores 0.700 [0.680, 0.720].
    """
    from driftloop.config.monitoring import QualityPolicy
    from driftloop.monitoring.quality import BatchQuality, MetricEstimate, judge_quality
    from driftloop.registry import ModelVersion, VersionStatus
    from driftloop.training.quality import QualityCheck

    value = 0.70 if degraded else 0.79
    roc_auc = MetricEstimate(value=value, low=value - 0.02, high=value + 0.02)
    metrics = {"roc_auc": roc_auc, "log_loss": MetricEstimate(value=0.5, low=0.48, high=0.53)}
    champion = ModelVersion(
        model="credit_risk",
        version=1,
        run_key="r",
        status=VersionStatus.REGISTERED,
        lineage=lineage(),
        reference_profile_uri=None,
        created_by="t",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    verdict = judge_quality(
        metrics,
        dataset="credit_risk",
        version=champion,
        rows=4000,
        batches=[batch],
        policy=QualityPolicy(tolerance=0.02, min_rows=1000),
    )
    if reason is not None:
        verdict = verdict.model_copy(update={"reason": reason})
    scored = BatchQuality(
        model="credit_risk",
        version=1,
        batch=batch,
        batch_commit="c0ffee02",
        labels_commit="c0ffee03",
        rows=4000,
        labelled_rows=4000,
        metrics=metrics,
        scored_at=datetime(2024, 1, 4, tzinfo=UTC),
    )
    return QualityCheck(verdict=verdict, scored=[scored]).summary()
