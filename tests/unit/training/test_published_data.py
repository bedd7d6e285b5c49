"""Training takes only data on main; the override is recorded and never promoted by itself.

Every test runs on the local store and on ``LakeFSVersionStore`` against the lakeFS stand-in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.config.promotion import CHAMPION
from driftloop.exceptions import UnpublishedData, VersionNotFound
from driftloop.registry import Registry
from driftloop.spec import DatasetSpec, load_spec
from driftloop.training import TrainingParams
from driftloop.training.steps import (
    check_data_published,
    decide_promotion,
    register_candidate,
    reproduce_version,
    run_folder,
    train_candidate,
)
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop_provider.testing import publish_synthetic_days
from tests.support.lakefs_standin import LakeFSStandIn
from tests.unit.versioning.conftest import lakefs_settings

PARAMS = TrainingParams(num_boost_round=10, max_depth=2)
QUARANTINE = "ingest-2026-04-02"


@dataclass(frozen=True)
class World:
    settings: Settings
    store: VersionStore
    spec: DatasetSpec
    registry: Registry
    published: list[str]
    """An older commit of main, then its head."""
    quarantined: str
    """The head of a branch off main, as a quarantined batch leaves it."""


@pytest.fixture(scope="module")
def lakefs_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSStandIn]:
    with LakeFSStandIn(data_dir=tmp_path_factory.mktemp("lakefs-standin")) as standin:
        yield standin


@pytest.fixture(scope="module", params=["local", "lakefs-standin"])
def world(
    request: pytest.FixtureRequest, repo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> World:
    home = tmp_path_factory.mktemp("published") / "home"
    settings = Settings(home=home, project_dir=repo_dir)
    if request.param == "lakefs-standin":
        standin: LakeFSStandIn = request.getfixturevalue("lakefs_standin")
        repository = f"test-{uuid.uuid4().hex[:12]}"
        settings = lakefs_settings(
            home,
            endpoint=standin.endpoint,
            key=standin.access_key_id,
            secret=standin.secret_access_key,
            repository=repository,
            namespace=f"local://standin/{repository}",
        ).model_copy(update={"project_dir": repo_dir})
    store = open_store(settings)
    head = publish_synthetic_days(settings, start=date(2026, 4, 1), days=2, rows=1500, store=store)
    history = [commit.id for commit in store.log(settings.main_branch)]
    store.create_branch(QUARANTINE, settings.main_branch)
    store.write_object(QUARANTINE, "quarantine/reasons.json", b'{"failed": ["amount >= 0"]}')
    quarantined = store.commit(QUARANTINE, "Quarantine: validation failed").id
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    spec = load_spec(settings.dataset_spec_path)
    return World(settings, store, spec, registry, [history[len(history) // 2], head], quarantined)


def _train(world: World, ref: str, commit: str, run_key: str, *, allow: bool = False):
    return train_candidate(
        world.store,
        world.registry,
        world.spec,
        settings=world.settings,
        data_ref=ref,
        data_commit=commit,
        run_key=run_key,
        params=PARAMS,
        allow_unpublished_data=allow,
    )


def test_a_quarantine_branch_is_refused_naming_the_ref_and_the_commit(world: World) -> None:
    with pytest.raises(UnpublishedData) as caught:
        _train(world, QUARANTINE, world.quarantined, "run-refused")

    message = str(caught.value)
    assert f"data ref {QUARANTINE!r} (commit {world.quarantined})" in message
    assert "is not on 'main'" in message
    assert "allow_unpublished_data" in message
    # Refused before anything was written or registered.
    folder = run_folder(world.spec, "run-refused")
    if world.settings.models_branch in world.store.list_branches():
        assert world.store.list_objects(world.settings.models_branch, folder) == []
    with pytest.raises(VersionNotFound):
        world.registry.list_versions(world.spec.name)


def test_main_and_its_history_are_published(world: World) -> None:
    older, head = world.published
    for ref, commit in (("main", head), (older, older), (older[:12], older)):
        assert check_data_published(
            world.store, world.settings, data_ref=ref, data_commit=commit, allow_unpublished=False
        )
    assert not check_data_published(
        world.store,
        world.settings,
        data_ref=QUARANTINE,
        data_commit=world.quarantined,
        allow_unpublished=True,
    )


def test_the_override_is_recorded_and_never_promoted_automatically(world: World) -> None:
    settings, store, spec, registry = world.settings, world.store, world.spec, world.registry
    candidate = _train(world, QUARANTINE, world.quarantined, "run-override", allow=True)
    assert candidate.unpublished_data

    version = register_candidate(
        registry, store, spec, candidate, settings=settings, created_by="t"
    )
    assert version.lineage.unpublished_data
    assert (version.lineage.data_ref, version.lineage.data_commit) == (
        QUARANTINE,
        world.quarantined,
    )

    decision = decide_promotion(
        registry, version, candidate, policy=settings.promotion, mode="auto", actor="t"
    )
    assert not decision.promote
    assert decision.reason.startswith(
        f"trained on unpublished data (ref {QUARANTINE!r}, commit {world.quarantined}"
    )
    assert "never promoted automatically" in decision.reason
    assert "the policy would promote: first model" in decision.reason
    assert decision.evidence["unpublished_data"] is True
    (recorded,) = registry.decisions(spec.name)
    assert (recorded.version, recorded.promoted) == (version.version, False)
    assert registry.get_alias(spec.name, CHAMPION) is None

    # A person may still choose it: the approval gate sees why, a manual promote works.
    approval = decide_promotion(
        registry,
        version,
        candidate.model_copy(update={"run_key": "run-override-approval"}),
        policy=settings.promotion,
        mode="require_approval",
        actor="t",
    )
    assert approval.promote and approval.reason.startswith("trained on unpublished data")
    registry.move_alias(spec.name, CHAMPION, version.version, actor="cli:expert", reason="chosen")
    assert registry.get_alias(spec.name, CHAMPION).version == version.version

    assert reproduce_version(store, registry, spec, spec.name, version.version).identical


def test_the_override_changes_nothing_for_data_on_main(world: World) -> None:
    head = world.published[-1]
    candidate = _train(world, "main", head, "run-main-allowed", allow=True)
    version = register_candidate(
        world.registry, world.store, world.spec, candidate, settings=world.settings, created_by="t"
    )
    assert not candidate.unpublished_data and not version.lineage.unpublished_data
