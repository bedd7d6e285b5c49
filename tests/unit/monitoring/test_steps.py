from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from driftloop.config import Settings
from driftloop.config.monitoring import DriftPolicy, MonitoringSettings
from driftloop.data.sources import to_parquet_bytes
from driftloop.exceptions import DriftCheckSkipped
from driftloop.monitoring.profiles import list_profiles, read_view, write_profile
from driftloop.monitoring.steps import (
    profile_new_batches,
    read_checkpoint,
    reference_profile_for_training,
    run_drift_check,
)
from driftloop.registry import Registry
from driftloop.spec import DatasetSpec
from driftloop.versioning.base import VersionStore
from tests.unit.monitoring.conftest import lineage, make_batch


def _champion_with_reference(
    registry: Registry, store: VersionStore, spec: DatasetSpec, settings: Settings
) -> str:
    registry.register_version(spec.name, run_key="train-1", lineage=lineage(), created_by="test")
    uri = reference_profile_for_training(store, spec, make_batch(1), settings=settings)
    registry.set_reference_profile(spec.name, 1, uri)
    registry.move_alias(spec.name, "champion", 1, actor="test", reason="first model")
    return uri


def _record_batch(store: VersionStore, spec: DatasetSpec, key: str, profile: bytes) -> None:
    write_profile(store, dataset=spec.name, kind="batch", key=key, data=profile, rows=10_000)


def _publish(store: VersionStore, spec: DatasetSpec, day: int) -> str:
    """Publish a batch to main the way the ingest DAG does: a merge with the interval."""
    start = datetime(2024, 1, day, tzinfo=UTC)
    key = start.strftime("%Y-%m-%dT%H%MZ")
    branch = f"ingest-{key}"
    store.create_branch(branch, "main")
    store.write_object(
        branch, f"data/{spec.name}/{key}.parquet", to_parquet_bytes(make_batch(day, rows=500))
    )
    store.commit(branch, f"Stage {key}")
    store.merge(
        branch,
        "main",
        f"Publish {key}",
        {
            "batch": key,
            "rows": "500",
            "interval_start": start.isoformat(),
            "interval_end": (start + timedelta(days=1)).isoformat(),
        },
    )
    return key


def test_drift_is_checked_against_the_champions_reference(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    income_shift_profile: bytes,
) -> None:
    uri = _champion_with_reference(registry, local_store, spec, settings)
    _record_batch(local_store, spec, "b2", income_shift_profile)
    newest = list_profiles(local_store, dataset=spec.name)[-1].recorded_at

    result = run_drift_check(local_store, registry, spec, settings)

    assert result.drifted and result.drifted_features == ["income"]
    assert result.reference_id == uri
    assert result.target_ids == [f"monitoring/{spec.name}/batch/b2.bin"]
    assert result.newest_profile_at == newest
    assert result.report_html and local_store.read_object("monitoring", result.report_html)
    assert read_checkpoint(local_store, spec.name) == newest
    checkpoint, report = local_store.log("monitoring", limit=2)
    assert checkpoint.message == f"Drift checkpoint of {spec.name}"
    assert checkpoint.metadata == {"since": newest.isoformat()}
    assert report.message.startswith("Drift report ") and report.message.endswith(": drift")
    with pytest.raises(DriftCheckSkipped, match="no new batch or serving profiles"):
        run_drift_check(local_store, registry, spec, settings)


def test_only_profiles_after_the_checkpoint_are_judged(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    income_shift_profile: bytes,
    same_profile: bytes,
) -> None:
    _champion_with_reference(registry, local_store, spec, settings)
    _record_batch(local_store, spec, "b2", income_shift_profile)
    run_drift_check(local_store, registry, spec, settings)
    _record_batch(local_store, spec, "b3", same_profile)

    result = run_drift_check(local_store, registry, spec, settings)

    assert not result.drifted
    assert result.target_ids == [f"monitoring/{spec.name}/batch/b3.bin"]


def test_without_a_champion_the_check_skips_and_moves_on(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
) -> None:
    _record_batch(local_store, spec, "b2", same_profile)
    newest = list_profiles(local_store, dataset=spec.name)[-1].recorded_at

    with pytest.raises(DriftCheckSkipped, match="no champion"):
        run_drift_check(local_store, registry, spec, settings)

    assert read_checkpoint(local_store, spec.name) == newest


def test_a_champion_without_reference_profile_is_named(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
) -> None:
    registry.register_version(spec.name, run_key="train-1", lineage=lineage(), created_by="test")
    registry.move_alias(spec.name, "champion", 1, actor="test", reason="first model")
    _record_batch(local_store, spec, "b2", same_profile)

    with pytest.raises(DriftCheckSkipped, match=r"champion version 1 .* has no reference profile"):
        run_drift_check(local_store, registry, spec, settings)


def test_too_few_new_rows_wait_for_more(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
) -> None:
    strict = settings.model_copy(
        update={
            "monitoring": MonitoringSettings(settle_seconds=0, policy=DriftPolicy(min_rows=15_000))
        }
    )
    _champion_with_reference(registry, local_store, spec, strict)
    _record_batch(local_store, spec, "b2", same_profile)

    with pytest.raises(DriftCheckSkipped, match="only 10000 new rows"):
        run_drift_check(local_store, registry, spec, strict)

    assert read_checkpoint(local_store, spec.name) is None


def test_profiles_younger_than_the_settle_time_wait(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
) -> None:
    patient = settings.model_copy(update={"monitoring": MonitoringSettings(settle_seconds=600)})
    _champion_with_reference(registry, local_store, spec, patient)
    _record_batch(local_store, spec, "b2", same_profile)

    with pytest.raises(DriftCheckSkipped, match="no new batch or serving profiles"):
        run_drift_check(local_store, registry, spec, patient)

    assert not run_drift_check(local_store, registry, spec, settings).drifted


def test_the_reference_profile_is_stored_once_per_training_data(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    frame = make_batch(1, rows=2_000)
    assert not local_store.branch_exists("monitoring")

    uri = reference_profile_for_training(local_store, spec, frame, settings=settings)
    assert local_store.branch_exists("monitoring")
    head = local_store.resolve("monitoring")
    again = reference_profile_for_training(local_store, spec, frame.copy(), settings=settings)
    other = reference_profile_for_training(local_store, spec, frame.iloc[:1_000], settings=settings)

    assert again == uri
    assert local_store.log("monitoring", limit=2)[1].id == head  # only the other data committed
    assert other != uri
    assert "/monitoring/credit_risk/reference/" in uri
    stored = list_profiles(local_store, dataset=spec.name, kind="reference")
    assert [p.rows for p in stored] == [2_000, 1_000]


def test_published_batches_are_profiled_once_with_their_interval(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    first, second = _publish(local_store, spec, 2), _publish(local_store, spec, 3)

    written = profile_new_batches(local_store, spec, settings)

    assert [p.key for p in written] == [first, second]
    assert written[0].window_start == datetime(2024, 1, 2, tzinfo=UTC)
    assert written[0].window_end == datetime(2024, 1, 3, tzinfo=UTC)
    assert (
        read_view(local_store.read_object("monitoring", written[0].path))
        .get_column("age")
        .to_summary_dict()["counts/n"]
        == 500
    )
    assert profile_new_batches(local_store, spec, settings) == []
    third = _publish(local_store, spec, 4)
    assert [p.key for p in profile_new_batches(local_store, spec, settings)] == [third]


def test_nothing_published_means_nothing_to_profile(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    assert profile_new_batches(local_store, spec, settings) == []


def test_the_cli_check_prints_the_table_and_leaves_the_checkpoint(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    income_shift_profile: bytes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import driftloop.launcher.drift as command

    _champion_with_reference(registry, local_store, spec, settings)
    _record_batch(local_store, spec, "b2", income_shift_profile)
    monkeypatch.setattr("driftloop.versioning.factory.open_store", lambda _: local_store)
    monkeypatch.setattr("driftloop.registry.Registry", lambda url: registry)

    assert command.drift_check(settings, against=1) == 0
    out = capsys.readouterr().out
    assert "income" in out and "YES" in out and "report: monitoring/" in out
    assert read_checkpoint(local_store, spec.name) is None
