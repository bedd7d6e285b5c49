from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from driftloop.config import Settings
from driftloop.config.monitoring import DriftPolicy, MonitoringSettings
from driftloop.data.sources import read_parquet_bytes
from driftloop.exceptions import DriftCheckSkipped, MonitoringError, ProfileError
from driftloop.monitoring.drift import DriftResult, WaitingProfile
from driftloop.monitoring.profiles import ProfileRef, list_profiles, read_view, write_profile
from driftloop.monitoring.steps import (
    profile_new_batches,
    read_checkpoint,
    reference_profile_for_training,
    run_drift_check,
)
from driftloop.registry import ModelVersion, Registry
from driftloop.spec import DatasetSpec
from driftloop.versioning.base import VersionStore
from tests.unit.monitoring.conftest import BATCH_ROWS, lineage, make_batch, publish_batch

# About six points of interest rate (its standard deviation is about 2.8 points).
RATE_SHIFT = {"interest_rate": 2.0}


def _train(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    *,
    champion: bool = True,
) -> ModelVersion:
    """Register a version trained on main as it is now, with its reference profile.

    Without published data, the reference is one generated day of the same distribution.
    """
    commit = store.resolve("main")
    objects = store.list_objects(commit, f"data/{spec.name}/")
    frame = (
        pd.concat(
            [read_parquet_bytes(store.read_object(commit, o.path), label=o.path) for o in objects]
        )
        if objects
        else make_batch(1)
    )
    version = registry.register_version(
        spec.name,
        run_key=f"train-{uuid.uuid4().hex}",
        lineage=lineage(commit),
        created_by="test",
    )
    uri = reference_profile_for_training(store, spec, frame, settings=settings)
    registry.set_reference_profile(spec.name, version.version, uri)
    if champion:
        registry.move_alias(spec.name, "champion", version.version, actor="test", reason="test")
    return registry.get_version(spec.name, version.version)


def _serve(
    store: VersionStore, spec: DatasetSpec, version: int, profile: bytes, *, minute: int = 0
) -> ProfileRef:
    """A serving profile as the service writes it, keyed by model version."""
    key = f"{spec.name}-v{version}-20240110T00{minute:02d}00Z-w1"
    return write_profile(
        store, dataset=spec.name, kind="serving", key=key, data=profile, rows=10_000
    )


def _batch_path(spec: DatasetSpec, key: str) -> str:
    return f"monitoring/{spec.name}/batch/{key}.bin"


def _feature(result: DriftResult, name: str) -> object:
    return next(f for f in result.features if f.name == name)


def _with(settings: Settings, **monitoring: object) -> Settings:
    return settings.model_copy(
        update={
            "monitoring": MonitoringSettings.model_validate({"settle_seconds": 0, **monitoring})
        }
    )


def test_the_champion_is_judged_on_the_batches_it_was_not_trained_on(
    local_store: VersionStore, registry: Registry, spec: DatasetSpec, settings: Settings
) -> None:
    trained_on = [publish_batch(local_store, spec, 1), publish_batch(local_store, spec, 2)]
    profile_new_batches(local_store, spec, settings)
    champion = _train(local_store, registry, spec, settings)
    shifted = publish_batch(local_store, spec, 3, shift=RATE_SHIFT)
    (new,) = profile_new_batches(local_store, spec, settings)

    result = run_drift_check(local_store, registry, spec, settings)

    assert [p.key for p in result.batches] == [shifted]
    assert result.target_ids == [_batch_path(spec, shifted)]
    assert not {_batch_path(spec, key) for key in trained_on} & set(result.target_ids)
    assert result.target_rows == BATCH_ROWS
    assert result.drifted and result.drifted_features == ["interest_rate"]
    assert _feature(result, "interest_rate").hellinger > 0.3  # type: ignore[attr-defined]
    assert result.model_version == 1 and result.trained_batches == 2
    assert result.data_commit == champion.lineage.data_commit
    assert result.reference_id == champion.reference_profile_uri
    assert result.serving == [] and result.waiting == []
    assert result.newest_profile_at == new.recorded_at == read_checkpoint(local_store, spec.name)
    stored = DriftResult.model_validate_json(
        local_store.read_object("monitoring", str(result.report_json))
    )
    assert [p.key for p in stored.batches] == [shifted] and stored.model_version == 1
    checkpoint, report = local_store.log("monitoring", limit=2)
    assert checkpoint.message == f"Drift checkpoint of {spec.name}"
    assert report.message.startswith("Drift report ") and report.message.endswith(": drift")
    with pytest.raises(DriftCheckSkipped, match="no new batch or serving profiles"):
        run_drift_check(local_store, registry, spec, settings)


def test_right_after_training_its_batches_are_not_judged(
    local_store: VersionStore, registry: Registry, spec: DatasetSpec, settings: Settings
) -> None:
    publish_batch(local_store, spec, 1)
    publish_batch(local_store, spec, 2)
    newest = profile_new_batches(local_store, spec, settings)[-1]
    _train(local_store, registry, spec, settings)

    with pytest.raises(
        DriftCheckSkipped, match=r"nothing to judge in the window of version 1"
    ) as e:
        run_drift_check(local_store, registry, spec, settings)

    assert "0 batches published after its training data" in str(e.value)
    assert "its 2 batches are left out" in str(e.value)
    # The monitor will not wake for these profiles again.
    assert read_checkpoint(local_store, spec.name) == newest.recorded_at
    with pytest.raises(DriftCheckSkipped, match="no new batch or serving profiles"):
        run_drift_check(local_store, registry, spec, settings)


def test_a_small_new_batch_is_judged_with_the_whole_window(
    local_store: VersionStore, registry: Registry, spec: DatasetSpec, settings: Settings
) -> None:
    publish_batch(local_store, spec, 1)
    profile_new_batches(local_store, spec, settings)
    _train(local_store, registry, spec, settings)
    first = publish_batch(local_store, spec, 2, rows=600, shift=RATE_SHIFT)
    (small,) = profile_new_batches(local_store, spec, settings)

    with pytest.raises(DriftCheckSkipped, match="only 600 rows in the window"):
        run_drift_check(local_store, registry, spec, settings)
    assert read_checkpoint(local_store, spec.name) == small.recorded_at

    second = publish_batch(local_store, spec, 3, rows=600, shift=RATE_SHIFT)
    profile_new_batches(local_store, spec, settings)
    result = run_drift_check(local_store, registry, spec, settings)

    assert [p.key for p in result.batches] == [first, second]
    assert result.target_rows == 1_200
    assert result.drifted


def test_serving_profiles_count_for_the_version_that_served_them_since_it_went_live(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
    income_shift_profile: bytes,
) -> None:
    _train(local_store, registry, spec, settings)
    _serve(local_store, spec, 1, income_shift_profile, minute=1)
    _train(local_store, registry, spec, settings, champion=False)
    # Version 2 served before, and then lost the alias: not since it went live.
    _serve(local_store, spec, 2, income_shift_profile, minute=2)
    live = registry.move_alias(spec.name, "champion", 2, actor="test", reason="promoted")
    served = _serve(local_store, spec, 2, same_profile, minute=3)
    # A worker's last flush of version 1, written after version 2 went live.
    _serve(local_store, spec, 1, income_shift_profile, minute=3)

    result = run_drift_check(local_store, registry, spec, settings)

    assert result.model_version == 2 and result.live_since == live.at
    assert [p.key for p in result.serving] == [served.key]
    assert result.batches == []
    assert result.target_rows == 10_000
    assert not result.drifted


def test_a_settling_serving_profile_is_named_with_its_ready_time_and_batches_do_not_wait(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
) -> None:
    patient = _with(settings, settle_seconds=600)
    _train(local_store, registry, spec, patient)
    served = _serve(local_store, spec, 1, same_profile)
    ready_at = served.recorded_at + timedelta(seconds=600)

    with pytest.raises(DriftCheckSkipped, match="no new batch or serving profiles") as e:
        run_drift_check(local_store, registry, spec, patient)
    assert f"serving {served.key}: still settling, ready at {ready_at:%Y-%m-%dT%H:%M:%S}" in str(
        e.value
    )
    assert read_checkpoint(local_store, spec.name) is None

    batch = publish_batch(local_store, spec, 2)
    profile_new_batches(local_store, spec, patient)
    result = run_drift_check(local_store, registry, spec, patient)

    assert [p.key for p in result.batches] == [batch] and result.serving == []
    assert result.waiting == [
        WaitingProfile(
            kind="serving",
            key=served.key,
            reason="still settling",
            rows=10_000,
            ready_at=ready_at,
        )
    ]
    # Once settled, the serving profile is still newer than the checkpoint: it wakes the monitor.
    assert read_checkpoint(local_store, spec.name) == served.recorded_at - timedelta(microseconds=1)


@pytest.mark.parametrize("count", [True, False])
def test_a_validation_warning_of_a_scored_batch_is_drift_evidence(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    count: bool,
) -> None:
    configured = _with(settings, policy=DriftPolicy(validation_warnings_count=count))
    range_warning = {
        "column": "income",
        "expectation": "expect_column_values_to_be_between",
        "rule": "range",
        "message": "income: 40 values above 250000 (1.0% of rows)",
    }
    trained_warning = {**range_warning, "column": "age", "message": "age: 3 values above 90"}
    type_warning = {
        "column": "purpose",
        "expectation": "expect_column_values_to_be_in_type_list",
        "rule": "type",
        "message": "purpose has type int64",
    }
    publish_batch(local_store, spec, 1, warnings=[trained_warning])
    profile_new_batches(local_store, spec, configured)
    _train(local_store, registry, spec, configured)
    batch = publish_batch(local_store, spec, 2, warnings=[range_warning, type_warning])
    profile_new_batches(local_store, spec, configured)

    result = run_drift_check(local_store, registry, spec, configured)

    (scored,) = result.batches
    assert [w.model_dump() for w in scored.validation_warnings] == [range_warning, type_warning]
    income = _feature(result, "income")
    assert income.validation_warning == f"in {batch}: {range_warning['message']}"  # type: ignore[attr-defined]
    assert _feature(result, "purpose").validation_warning is None  # type: ignore[attr-defined]
    assert _feature(result, "age").validation_warning is None  # type: ignore[attr-defined]
    assert result.drifted is count
    assert result.drifted_features == (["income"] if count else [])
    assert ("validation warning in " in result.reason) is count
    assert result.summary()["batches"] == [
        {
            "key": batch,
            "rows": BATCH_ROWS,
            "validation_warnings": [m["message"] for m in (range_warning, type_warning)],
        }
    ]


def test_malformed_validation_warnings_are_refused(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    publish_batch(local_store, spec, 1, warnings=[{"column": "income"}])

    with pytest.raises(ProfileError, match="validation_warnings that are not a JSON list"):
        profile_new_batches(local_store, spec, settings)


def test_without_a_champion_the_check_skips_and_moves_on(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    same_profile: bytes,
) -> None:
    write_profile(local_store, dataset=spec.name, kind="batch", key="b2", data=same_profile, rows=1)
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
    write_profile(local_store, dataset=spec.name, kind="batch", key="b2", data=same_profile, rows=1)

    with pytest.raises(DriftCheckSkipped, match=r"champion version 1 .* has no reference profile"):
        run_drift_check(local_store, registry, spec, settings)


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
    first = publish_batch(local_store, spec, 2, rows=500)
    second = publish_batch(local_store, spec, 3)

    written = profile_new_batches(local_store, spec, settings)

    assert [p.key for p in written] == [first, second]
    assert written[0].window_start == datetime(2024, 1, 2, tzinfo=UTC)
    assert written[0].window_end == datetime(2024, 1, 3, tzinfo=UTC)
    assert written[0].validation_warnings == []
    assert (
        read_view(local_store.read_object("monitoring", written[0].path))
        .get_column("age")
        .to_summary_dict()["counts/n"]
        == 500
    )
    assert profile_new_batches(local_store, spec, settings) == []
    third = publish_batch(local_store, spec, 4)
    assert [p.key for p in profile_new_batches(local_store, spec, settings)] == [third]


def test_batches_are_profiled_as_of_a_given_commit_of_main(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    first = publish_batch(local_store, spec, 2, rows=500)
    published = local_store.resolve("main")
    publish_batch(local_store, spec, 3, rows=500)

    written = profile_new_batches(local_store, spec, settings, commit=published)

    assert [p.key for p in written] == [first]
    assert profile_new_batches(local_store, spec, settings, commit=published) == []


def test_a_commit_outside_mains_history_is_refused(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    local_store.create_branch("ingest-credit_risk-bad", "main")
    local_store.write_object("ingest-credit_risk-bad", "data/credit_risk/bad.parquet", b"x")
    rejected = local_store.commit("ingest-credit_risk-bad", "Stage bad", {"batch": "bad"}).id

    with pytest.raises(MonitoringError, match=rf"commit '{rejected}' is not in main's history"):
        profile_new_batches(local_store, spec, settings, commit=rejected)
    assert list_profiles(local_store, dataset=spec.name) == []


def test_a_batch_profile_takes_only_its_own_datasets_publish_commit(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    """Another dataset's batch of the same interval has the same key, and newer warnings."""
    key = publish_batch(local_store, spec, 2)
    warning = {"column": "income", "expectation": "e", "rule": "range", "message": "m"}
    publish_batch(local_store, spec.model_copy(update={"name": "other"}), 2, warnings=[warning])

    (written,) = profile_new_batches(local_store, spec, settings)

    assert written.key == key and written.validation_warnings == []


def test_nothing_published_means_nothing_to_profile(
    local_store: VersionStore, spec: DatasetSpec, settings: Settings
) -> None:
    assert profile_new_batches(local_store, spec, settings) == []


def test_the_cli_check_prints_what_it_compared_and_leaves_the_checkpoint(
    local_store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import driftloop.launcher.drift as command

    publish_batch(local_store, spec, 1)
    publish_batch(local_store, spec, 2)
    profile_new_batches(local_store, spec, settings)
    champion = _train(local_store, registry, spec, settings)
    shifted = publish_batch(local_store, spec, 3, shift=RATE_SHIFT)
    profile_new_batches(local_store, spec, settings)
    unprofiled = publish_batch(local_store, spec, 4)
    monkeypatch.setattr("driftloop.versioning.factory.open_store", lambda _: local_store)
    monkeypatch.setattr("driftloop.registry.Registry", lambda url: registry)

    assert command.drift_check(settings, against=None) == 0

    out = capsys.readouterr().out
    print(out)  # shown with -s: the command's output, as a user sees it
    assert (
        f"judged against version 1 of {spec.name}: reference {champion.reference_profile_uri}"
        in out
    )
    assert "left out: the 2 batches version 1 was trained on" in out
    assert f"target: {BATCH_ROWS} rows (batches: 1, serving windows: 0)" in out
    assert f"  batch {shifted}: {BATCH_ROWS} rows (2024-01-03T00:00+00:00 to" in out
    assert f"  batch {unprofiled}: published, not profiled yet" in out
    assert any(
        line.startswith("interest_rate") and line.split()[5] == "YES" for line in out.splitlines()
    )
    assert "report: monitoring/" in out
    assert read_checkpoint(local_store, spec.name) is None
