"""Serving fixtures shared by the package's tests: one project home with a real champion."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bento.environment import PROFILE_PROCESSES
from driftloop.config import Settings
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.serving.handle import ChampionLoader, ModelHandle, open_champion
from driftloop.serving.profiles import ServingProfiles
from driftloop.spec import DatasetSpec, load_spec
from driftloop.versioning.factory import open_store
from tests.support.serving import START, make_settings, train_version


@pytest.fixture(scope="package")
def project(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Settings:
    """A home with version 1 (the champion) and version 2 (registered), on the repo's spec."""
    settings = make_settings(tmp_path_factory.mktemp("serving") / "home", repo_dir)
    train_version(settings, day=0)
    train_version(settings, day=1, promote=False)
    return settings


@pytest.fixture(scope="package")
def spec(project: Settings) -> DatasetSpec:
    return load_spec(project.dataset_spec_path)


@pytest.fixture(scope="package")
def rows() -> list[dict]:
    """200 generated request rows (nulls as ``None``, without event time and target)."""
    frame = generate_batch(
        GeneratorConfig(seed=21, rows_per_batch=200), start=START, end=START.replace(day=2)
    )
    frame = frame.drop(columns=["applied_at", "default"]).astype(object)
    return frame.where(frame.notna(), None).to_dict(orient="records")


@pytest.fixture()
def loader(project: Settings, spec: DatasetSpec) -> ChampionLoader:
    return open_champion(project, spec)


@pytest.fixture()
def champion(loader: ChampionLoader) -> ModelHandle:
    return loader.load_champion()


@pytest.fixture()
def serving_profiles(project: Settings) -> Iterator[Callable[..., ServingProfiles]]:
    """Makes serving profiles on the project's store, their child started as the service
    starts it; each is stopped (and its child ended) after the test."""
    made: list[ServingProfiles] = []

    def make(**options: object) -> ServingProfiles:
        profiles = ServingProfiles(
            open_store=functools.partial(open_store, project),
            processes=PROFILE_PROCESSES,
            **options,
        )
        made.append(profiles)
        return profiles

    yield make
    for profiles in made:
        profiles.stop()
