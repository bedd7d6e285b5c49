"""A real, small champion for serving tests: data in the store, trained, registered, promoted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftloop.config import Settings
from driftloop.data.sources import to_parquet_bytes
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.registry import ModelVersion, Registry
from driftloop.spec import DatasetSpec, load_spec
from driftloop.train_steps import (
    promote_version,
    register_candidate,
    train_candidate,
)
from driftloop.training import TrainingParams
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store

START = datetime(2026, 1, 1, tzinfo=UTC)
PARAMS = TrainingParams(num_boost_round=40, early_stopping_rounds=10)


def make_settings(home: Path, repo_dir: Path, **overrides: object) -> Settings:
    """Settings of a fresh project home using the repository's demo spec."""
    return Settings(home=home, project_dir=repo_dir, **overrides)


def publish_batch(store: VersionStore, spec: DatasetSpec, settings: Settings, *, day: int) -> str:
    """Publish one generated day to main as ``data/<dataset>/<key>.parquet``; return the commit."""
    start = START + timedelta(days=day)
    frame = generate_batch(GeneratorConfig(seed=3, rows_per_batch=1500), start=start,
                           end=start + timedelta(days=1))
    store.ensure_repository(settings.main_branch)
    key = start.strftime("%Y-%m-%dT%H%MZ")
    store.write_object(settings.main_branch, f"data/{spec.name}/{key}.parquet",
                       to_parquet_bytes(frame))
    return store.commit(settings.main_branch, f"publish {key}", {"batch": key}).id


def train_version(
    settings: Settings,
    *,
    day: int,
    promote: bool = True,
    params: TrainingParams = PARAMS,
) -> ModelVersion:
    """Publish a day of data, train on main's head, register, and promote unless told not to."""
    store = open_store(settings)
    spec = load_spec(settings.dataset_spec_path)
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    try:
        commit = publish_batch(store, spec, settings, day=day)
        run_key = f"serving-test-{day}"
        candidate = train_candidate(
            store, registry, spec, settings=settings, data_ref=settings.main_branch,
            data_commit=commit, run_key=run_key, params=params,
        )
        version = register_candidate(
            registry, store, spec, candidate, settings=settings, created_by="tests"
        )
        if promote:
            promote_version(registry, version, reason="tests", evidence={}, actor="tests",
                            run_key=run_key)
        return version
    finally:
        registry.close()
