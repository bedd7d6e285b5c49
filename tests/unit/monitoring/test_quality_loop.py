"""The quality signal end to end, without Airflow: a champion, new labelled batches, the gate.

A changed relationship between the features and the target (inputs unchanged) degrades the
champion: the quality rule fires and the gate asks for a retrain for quality. Strong drift of
a feature the target does not depend on leaves quality intact: drift alone fires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from driftloop.config import Settings
from driftloop.config.monitoring import MonitoringSettings, QualityPolicy
from driftloop.data.sources import to_parquet_bytes
from driftloop.exceptions import QualityCheckSkipped
from driftloop.monitoring.drift import DriftResult
from driftloop.monitoring.guards import RetrainGuard
from driftloop.monitoring.quality import QualityStore, QualitySummary
from driftloop.monitoring.retrain import gate_retrain
from driftloop.monitoring.steps import check_drift, profile_new_batches
from driftloop.registry import ModelVersion, Registry
from driftloop.spec import DatasetSpec
from driftloop.training import TrainingParams
from driftloop.training.quality import QualityCheck, check_quality
from driftloop.training.steps import (
    decide_promotion,
    promote_version,
    register_candidate,
    train_candidate,
)
from driftloop.versioning.base import VersionStore
from tests.unit.monitoring.conftest import make_batch, publish_batch

PARAMS = TrainingParams(num_boost_round=40, max_depth=3)


@dataclass
class World:
    settings: Settings
    store: VersionStore
    registry: Registry
    quality: QualityStore
    spec: DatasetSpec
    champion: ModelVersion


@pytest.fixture
def world(settings: Settings, local_store: VersionStore, spec: DatasetSpec) -> Iterator[World]:
    settings = settings.model_copy(
        update={
            "monitoring": MonitoringSettings(
                settle_seconds=0, quality=QualityPolicy(resamples=50, min_rows=1000)
            )
        }
    )
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    for day in (1, 2):
        publish_batch(local_store, spec, day, rows=3000)
    head = local_store.resolve("main")
    candidate = train_candidate(
        local_store,
        registry,
        spec,
        settings=settings,
        data_ref="main",
        data_commit=head,
        run_key="run-1",
        params=PARAMS,
    )
    version = register_candidate(
        registry, local_store, spec, candidate, settings=settings, created_by="t"
    )
    decision = decide_promotion(
        registry, version, candidate, policy=settings.promotion, mode="auto", actor="t"
    )
    promote_version(
        registry,
        version,
        reason=decision.reason,
        evidence={},
        actor="t",
        run_key="run-1",
        compared_with=None,
    )
    quality = QualityStore(url=settings.registry_database_url)
    yield World(settings, local_store, registry, quality, spec, version)
    quality.close()
    registry.close()


def _gate(world: World, drift: dict | None, quality: dict | None, key: str):
    guard = RetrainGuard(
        url=world.settings.registry_database_url,
        scope=world.spec.name,
        settings=world.settings.monitoring.guards,
    )
    return gate_retrain(
        guard,
        drift,
        quality=quality,
        dataset=world.spec.name,
        train_running=False,
        key=key,
        triggered_by="test",
    )


def _drift(world: World, quality: QualityCheck | None = None) -> dict:
    """Check drift as the monitor does, after the quality check, whose summary it reports."""
    profile_new_batches(world.store, world.spec, world.settings)
    summary = QualitySummary.model_validate(quality.summary()) if quality else None
    return check_drift(
        world.store, world.registry, world.spec, world.settings, since=None, quality=summary
    ).summary()


def test_a_changed_relationship_fires_quality_and_the_gate_retrains_for_quality(world) -> None:
    for day in (3, 4):
        publish_batch(world.store, world.spec, day, rows=2000, relationship_shift=0.5)

    check = check_quality(world.store, world.registry, world.quality, world.spec, world.settings)
    drift = _drift(world, check)

    verdict = check.verdict
    assert verdict.degraded, verdict.reason
    assert verdict.reason.startswith("quality: roc_auc")
    evidence = verdict.evidence
    assert evidence.rows == 4000
    assert verdict.batches == ["2024-01-03T0000Z", "2024-01-04T0000Z"]
    assert evidence.pooled is not None and evidence.holdout is not None
    assert evidence.pooled.high < evidence.holdout
    assert not drift["drifted"], drift["reason"]
    assert [r.batch for r in check.scored] == verdict.batches
    report = world.store.read_object("monitoring", drift["report_json"])
    assert DriftResult.model_validate_json(report).quality == QualitySummary.model_validate(
        check.summary()
    )
    page = world.store.read_object("monitoring", drift["report_html"]).decode()
    assert '<h2>Model quality <span class="badge drift">Degraded</span></h2>' in page
    assert "<td>2024-01-04T0000Z</td>" in page
    assert world.quality.results(world.spec.name, world.champion.version) == check.scored

    gate = _gate(world, drift, check.summary(), key="run-q")
    assert gate.decision.allowed
    assert gate.conf["reason"].startswith("quality:")
    assert gate.conf["signals"] == ["quality"]
    assert gate.conf["batches"] == verdict.batches
    assert gate.conf["evidence"]["quality"]["holdout"] == evidence.holdout

    with pytest.raises(QualityCheckSkipped, match="no new labelled rows"):
        check_quality(world.store, world.registry, world.quality, world.spec, world.settings)


def test_strong_drift_with_unchanged_quality_is_drift_only(world) -> None:
    # The target does not depend on num_open_accounts: moving it is drift without harm.
    publish_batch(world.store, world.spec, 3, rows=4000, shift={"num_open_accounts": 1.5})

    check = check_quality(world.store, world.registry, world.quality, world.spec, world.settings)
    drift = _drift(world)

    assert drift["drifted"], drift["reason"]
    assert "num_open_accounts" in drift["drifted_features"]
    assert not check.verdict.degraded, check.verdict.reason
    gate = _gate(world, drift, check.summary(), key="run-d")
    assert gate.conf["signals"] == ["drift"]
    assert gate.conf["reason"].startswith("drift:")


def test_late_labels_are_joined_by_id_and_rescore_the_batch(world) -> None:
    spec, store = world.spec, world.store
    publish_batch(store, spec, 3, rows=3000, corruption={"null_fraction": {"default": 0.5}})

    first = check_quality(store, world.registry, world.quality, spec, world.settings)
    (result,) = first.scored
    assert result.rows == 3000
    assert 1300 < result.labelled_rows < 1700

    full = make_batch(3, rows=3000)
    labels = full[[spec.id_column, spec.target]]
    key = "2024-01-03T0000Z"
    branch = store.create_branch(f"ingest-{spec.name}_labels-{key}", "main") and (
        f"ingest-{spec.name}_labels-{key}"
    )
    store.write_object(
        branch, f"data/{spec.name}_labels/{key}.parquet", to_parquet_bytes(pd.DataFrame(labels))
    )
    store.commit(branch, "Stage labels", {"dataset": f"{spec.name}_labels", "batch": key})
    store.merge(branch, "main", "Publish labels", {"dataset": f"{spec.name}_labels", "batch": key})

    second = check_quality(store, world.registry, world.quality, spec, world.settings)
    (rescored,) = second.scored
    assert rescored.batch_commit == result.batch_commit
    assert rescored.labelled_rows == 3000
    assert rescored.labels_commit == store.resolve("main")
    (stored,) = world.quality.results(spec.name)
    assert stored == rescored
