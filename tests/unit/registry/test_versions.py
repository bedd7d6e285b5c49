from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from driftloop.exceptions import RegistryConflict, RegistryError, VersionNotFound
from driftloop.registry import ModelVersion, Registry, VersionLineage, VersionStatus


def _register(registry: Registry, lineage: VersionLineage, model: str, run: str) -> ModelVersion:
    return registry.register_version(model, run_key=run, lineage=lineage, created_by="trainer")


def test_versions_are_numbered_per_model(registry: Registry, lineage: VersionLineage) -> None:
    numbers = [_register(registry, lineage, "credit_risk", f"run-{i}").version for i in range(3)]
    other = _register(registry, lineage, "churn", "run-0")

    assert numbers == [1, 2, 3]
    assert other.version == 1
    assert [v.version for v in registry.list_versions("credit_risk")] == [1, 2, 3]
    assert registry.latest_version("credit_risk").version == 3
    assert [m.name for m in registry.list_models()] == ["churn", "credit_risk"]


def test_register_is_idempotent_by_run_key(registry: Registry, lineage: VersionLineage) -> None:
    first = _register(registry, lineage, "credit_risk", "dag/run-1/train")
    retrained = lineage.model_copy(update={"metrics": {"auc": 0.92, "logloss": 0.31}})

    again = registry.register_version(
        "credit_risk", run_key="dag/run-1/train", lineage=retrained, created_by="other"
    )

    assert again == first
    assert registry.list_versions("credit_risk") == [first]


def test_a_reused_run_key_with_another_artifact_is_a_conflict(
    registry: Registry, lineage: VersionLineage
) -> None:
    first = _register(registry, lineage, "credit_risk", "manual__2026-01-01T00:00:00+00:00")
    other = lineage.model_copy(update={"artifact_sha256": "a" * 64, "data_commit": "c0ffee02"})

    with pytest.raises(RegistryConflict) as caught:
        _register(registry, other, "credit_risk", "manual__2026-01-01T00:00:00+00:00")

    message = str(caught.value)
    for named in (
        "'manual__2026-01-01T00:00:00+00:00'",
        "'credit_risk'",
        "version 1",
        "9" * 64,
        "a" * 64,
    ):
        assert named in message
    assert registry.list_versions("credit_risk") == [first]
    assert _register(registry, other, "credit_risk", "manual__2026-01-02").version == 2


def test_unpublished_data_is_recorded_and_defaults_to_false(
    registry: Registry, lineage: VersionLineage
) -> None:
    assert lineage.unpublished_data is False
    override = lineage.model_copy(update={"data_ref": "ingest-2026", "unpublished_data": True})

    stored = _register(registry, override, "credit_risk", "run-1")

    assert registry.get_version("credit_risk", stored.version).lineage.unpublished_data
    older = lineage.model_dump()
    del older["unpublished_data"]
    assert VersionLineage.model_validate(older).unpublished_data is False


def test_lineage_round_trips(registry: Registry, lineage: VersionLineage) -> None:
    rich = lineage.model_copy(
        update={
            "validation": {"success": True, "failures": [], "statistics": {"rows": 10_000}},
            "params": {"eta": 0.05, "seed": 7, "monotone": [1, -1, 0], "note": "crédit ✓"},
            "feature_schema": {"features": [{"name": "age", "nullable": None}], "target": "y"},
        }
    )
    before = datetime.now(UTC)
    registered = _register(registry, rich, "credit_risk", "run-1")

    stored = registry.get_version("credit_risk", 1)

    assert stored == registered
    assert stored.lineage == rich
    assert stored.status is VersionStatus.REGISTERED
    assert stored.reference_profile_uri is None
    assert stored.created_by == "trainer"
    assert stored.run_key == "run-1"
    assert stored.created_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= stored.created_at <= datetime.now(UTC)


def test_a_first_model_has_no_champion_metrics(
    registry: Registry, db_url: str, lineage: VersionLineage
) -> None:
    first = lineage.model_copy(update={"holdout_metrics_champion": None, "tags": {}})
    _register(registry, first, "credit_risk", "run-1")

    assert registry.get_version("credit_risk", 1).lineage == first
    engine = create_engine(db_url)
    with engine.connect() as connection:
        stored_null = connection.scalar(
            text(
                "SELECT count(*) FROM registry_model_versions"
                " WHERE holdout_metrics_champion IS NULL"
            )
        )
    engine.dispose()
    assert stored_null == 1


def test_unknown_model_or_version_is_named(registry: Registry, lineage: VersionLineage) -> None:
    with pytest.raises(VersionNotFound, match="'nope'"):
        registry.get_version("nope", 1)
    with pytest.raises(VersionNotFound, match="'nope'"):
        registry.list_versions("nope")
    _register(registry, lineage, "credit_risk", "run-1")
    with pytest.raises(VersionNotFound, match="'credit_risk' has no version 7"):
        registry.get_version("credit_risk", 7)


def test_a_model_without_versions_has_no_latest(registry: Registry) -> None:
    created = registry.ensure_model("credit_risk", description="Credit default risk")

    assert registry.get_model("credit_risk") == created
    assert created.description == "Credit default risk"
    assert registry.ensure_model("credit_risk") == created
    with pytest.raises(VersionNotFound, match="no versions"):
        registry.latest_version("credit_risk")


@pytest.mark.parametrize("name", ["", "Credit", "-x", "a b", "x" * 256])
def test_invalid_model_names_are_refused(
    registry: Registry, lineage: VersionLineage, name: str
) -> None:
    with pytest.raises(RegistryError, match="invalid model name"):
        _register(registry, lineage, name, "run-1")
    assert registry.list_models() == []


def test_reference_profile_is_filled_later(registry: Registry, lineage: VersionLineage) -> None:
    _register(registry, lineage, "credit_risk", "run-1")

    updated = registry.set_reference_profile(
        "credit_risk", 1, "profiles/credit_risk/v1/reference.bin"
    )

    assert updated.reference_profile_uri == "profiles/credit_risk/v1/reference.bin"
    assert registry.get_version("credit_risk", 1) == updated
    with pytest.raises(VersionNotFound):
        registry.set_reference_profile("credit_risk", 2, "x")


def test_archived_versions_take_no_alias(registry: Registry, lineage: VersionLineage) -> None:
    for run in ("run-1", "run-2"):
        _register(registry, lineage, "credit_risk", run)
    registry.move_alias("credit_risk", "champion", 1, actor="t", reason="first")

    with pytest.raises(RegistryConflict, match=r"\['champion'\]"):
        registry.archive_version("credit_risk", 1)
    archived = registry.archive_version("credit_risk", 2)
    assert archived.status is VersionStatus.ARCHIVED
    assert registry.archive_version("credit_risk", 2) == archived
    with pytest.raises(RegistryConflict, match="archived"):
        registry.move_alias("credit_risk", "champion", 2, actor="t", reason="oops")
    assert registry.aliases("credit_risk") == {"champion": 1}
