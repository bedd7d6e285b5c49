"""The train DAG's steps on a real local store and SQLite registry: idempotent and guarded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.exceptions import ArtifactCorrupt, RegistryConflict, SchemaMismatch, TrainingError
from driftloop.registry import Registry
from driftloop.spec import load_spec
from driftloop.training import TrainingParams
from driftloop.training.steps import (
    decide_promotion,
    load_champion_model,
    promote_version,
    register_candidate,
    reproduce_version,
    train_candidate,
)
from driftloop.versioning.factory import open_store
from driftloop_provider.testing import publish_synthetic_days

# A weak first champion, so that a later challenger would beat it.
PARAMS = TrainingParams(num_boost_round=10, max_depth=1)


@pytest.fixture(scope="module")
def world(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(home=tmp_path_factory.mktemp("steps") / "home", project_dir=repo_dir)
    store = open_store(settings)
    head = publish_synthetic_days(settings, start=date(2026, 3, 1), days=1, rows=1500, store=store)
    spec = load_spec(settings.dataset_spec_path)
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    return settings, store, spec, head, registry


def _train(world, run_key: str, params: TrainingParams = PARAMS):
    settings, store, spec, head, registry = world
    return train_candidate(
        store,
        registry,
        spec,
        settings=settings,
        data_ref="main",
        data_commit=head,
        run_key=run_key,
        params=params,
    )


def test_retried_steps_write_one_artifact_commit_one_version_one_move(world) -> None:
    settings, store, spec, _, registry = world
    first = _train(world, "run-a")
    again = _train(world, "run-a")
    assert again.artifact_commit == first.artifact_commit
    assert again.artifact_sha256 == first.artifact_sha256
    artifacts = store.get_commit(first.artifact_commit)
    assert artifacts.id == store.resolve(settings.models_branch)
    assert artifacts.message == "Model artifacts of run-a"
    assert artifacts.metadata == {"airflow_run_id": "run-a", "data_commit": first.data_commit}

    v1 = register_candidate(registry, store, spec, first, settings=settings, created_by="t")
    v1_again = register_candidate(registry, store, spec, again, settings=settings, created_by="t")
    assert v1_again.version == v1.version == 1

    decision = decide_promotion(
        registry, v1, first, policy=settings.promotion, mode="auto", actor="t"
    )
    assert decision.promote
    for _ in range(2):
        promote_version(
            registry,
            v1,
            reason=decision.reason,
            evidence={},
            actor="t",
            run_key="run-a",
            compared_with=first.champion_version,
        )
    assert len(registry.audit_log(spec.name)) == 1
    assert registry.get_alias(spec.name, "champion").version == 1


def test_mode_never_records_a_non_promotion(world) -> None:
    settings, store, spec, _, registry = world
    candidate = _train(world, "run-never", TrainingParams(num_boost_round=80, max_depth=4))
    version = register_candidate(
        registry, store, spec, candidate, settings=settings, created_by="t"
    )
    decision = decide_promotion(
        registry, version, candidate, policy=settings.promotion, mode="never", actor="t"
    )
    assert not decision.promote
    assert decision.reason.startswith("promotion mode is 'never'")
    assert registry.decisions(spec.name)[-1].version == version.version
    assert candidate.champion_version == 1
    assert candidate.champion_metrics["rows"] == candidate.metrics["rows"]


def test_reproduce_gives_the_same_bytes(world) -> None:
    _, store, spec, _, registry = world
    result = reproduce_version(store, registry, spec, spec.name, 1)
    assert result.identical, result


def test_corrupted_artifact_is_caught_by_its_checksum(world) -> None:
    _, store, spec, _, registry = world
    champion = registry.get_alias(spec.name, "champion")
    lineage = champion.lineage.model_copy(update={"artifact_sha256": "0" * 64})
    with pytest.raises(ArtifactCorrupt, match="checksum mismatch") as caught:
        load_champion_model(store, champion.model_copy(update={"lineage": lineage}))
    assert lineage.artifact_uri in str(caught.value)


def test_a_spec_that_no_longer_fits_the_champion_is_refused(world) -> None:
    settings, store, spec, head, registry = world
    renamed = spec.model_copy(
        update={
            "features": [
                f.model_copy(update={"name": f"{f.name}_v2"}) if i == 0 else f
                for i, f in enumerate(spec.features)
            ]
        }
    )
    with pytest.raises(SchemaMismatch, match="age"):
        train_candidate(
            store,
            registry,
            renamed,
            settings=settings,
            data_ref="main",
            data_commit=head,
            run_key="run-renamed",
            params=PARAMS,
        )
    assert registry.get_alias(spec.name, "champion").version == 1


def test_too_few_rows_is_refused(world) -> None:
    settings, store, spec, head, registry = world
    with pytest.raises(TrainingError, match="rows"):
        train_candidate(
            store,
            registry,
            spec,
            settings=settings,
            data_ref="main",
            data_commit=head,
            run_key="run-small",
            params=TrainingParams(num_boost_round=5, min_rows=100_000),
        )


def test_a_run_key_reused_for_another_model_is_refused_at_registration(world) -> None:
    settings, store, spec, _, registry = world
    first = _train(world, "manual__reused")
    version = register_candidate(registry, store, spec, first, settings=settings, created_by="t")
    # The same run id again (Airflow's database was reset): another model is trained.
    other = _train(world, "manual__reused", TrainingParams(num_boost_round=12, max_depth=2))
    assert other.artifact_sha256 != first.artifact_sha256

    with pytest.raises(RegistryConflict, match=r"run key 'manual__reused'") as caught:
        register_candidate(registry, store, spec, other, settings=settings, created_by="t")

    assert first.artifact_sha256 in str(caught.value) and other.artifact_sha256 in str(caught.value)
    assert registry.latest_version(spec.name) == version
    assert load_champion_model(store, version) is not None  # its artifact commit still holds it
