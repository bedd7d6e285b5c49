from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    TaskDeferred,
)

from driftloop.config import get_settings
from driftloop.monitoring.profiles import write_profile
from driftloop.monitoring.steps import write_checkpoint
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop_provider.sensors import NewProfileSensor
from driftloop_provider.triggers import NewProfileTrigger

DATASET = "credit_risk"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VersionStore:
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRIFTLOOP_MONITORING__SETTLE_SECONDS", "0")
    store = open_store(get_settings())
    store.ensure_repository("main")
    return store


def _sensor(**kwargs: object) -> NewProfileSensor:
    return NewProfileSensor(task_id="wait_for_profiles", poke_interval=5, timeout=600, **kwargs)  # type: ignore[arg-type]


def _write(store: VersionStore, key: str, kind: str = "batch") -> datetime:
    ref = write_profile(store, dataset=DATASET, kind=kind, key=key, data=b"p", rows=3)  # type: ignore[arg-type]
    return ref.recorded_at


def test_it_defers_from_the_checkpoint_when_nothing_is_new(store: VersionStore) -> None:
    checked = _write(store, "b1")
    write_checkpoint(store, DATASET, checked)

    with pytest.raises(TaskDeferred) as deferred:
        _sensor().execute({})  # type: ignore[arg-type]

    trigger = deferred.value.trigger
    assert isinstance(trigger, NewProfileTrigger)
    assert trigger.serialize()[1] == {
        "dataset": DATASET,
        "since_iso": checked.isoformat(),
        "poll_seconds": 5.0,
        "kind": None,
        "lakefs_conn_id": None,
    }
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=600)


def test_it_returns_at_once_when_profiles_are_new(store: VersionStore) -> None:
    checked = _write(store, "b1")
    write_checkpoint(store, DATASET, checked)
    newest = _write(store, "b2")

    event = _sensor().execute({})  # type: ignore[arg-type]

    assert event["count"] == 1
    assert event["newest"] == newest.isoformat()
    assert event["profiles"] == [f"monitoring/{DATASET}/batch/b2.bin"]


def _run_of(run_type: str) -> dict[str, object]:
    """The slice of a task's context the sensor reads: how its DAG run was started."""
    return {"dag_run": SimpleNamespace(run_type=run_type)}


def test_a_run_started_by_an_asset_event_finds_its_batch_on_the_first_look(
    store: VersionStore,
) -> None:
    write_checkpoint(store, DATASET, _write(store, "b1"))
    _write(store, "b2")

    event = _sensor().execute(_run_of("asset_triggered"))  # type: ignore[arg-type]

    assert event["profiles"] == [f"monitoring/{DATASET}/batch/b2.bin"]


@pytest.mark.parametrize("deferrable", [True, False])
def test_a_run_started_by_an_asset_event_skips_when_an_earlier_run_judged_it(
    store: VersionStore, deferrable: bool
) -> None:
    write_checkpoint(store, DATASET, _write(store, "b1"))
    sensor = _sensor(deferrable=deferrable)
    look = sensor.execute if deferrable else sensor.poke

    with pytest.raises(AirflowSkipException, match="an earlier run judged the profiles"):
        look(_run_of("asset_triggered"))  # type: ignore[arg-type]
    with pytest.raises(TaskDeferred):  # a run of the timer waits for serving profiles
        _sensor().execute(_run_of("scheduled"))  # type: ignore[arg-type]


def test_a_serving_profile_counts_once_it_has_settled(
    store: VersionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITORING__SETTLE_SECONDS", "600")
    _write(store, "credit_risk-v1-20240101T000000Z-w1", kind="serving")

    with pytest.raises(TaskDeferred):
        _sensor().execute({})  # type: ignore[arg-type]


def test_a_batch_profile_counts_at_once(
    store: VersionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITORING__SETTLE_SECONDS", "600")
    _write(store, "b1")

    event = _sensor().execute({})  # type: ignore[arg-type]

    assert event["profiles"] == [f"monitoring/{DATASET}/batch/b1.bin"]


def test_an_explicit_since_overrides_the_checkpoint(store: VersionStore) -> None:
    _write(store, "b1")
    write_checkpoint(store, DATASET, datetime.now(UTC))

    event = _sensor(since="2000-01-01T00:00:00").execute({})  # type: ignore[arg-type]

    assert event["since"] == "2000-01-01T00:00:00+00:00"
    assert event["count"] == 1


def test_execute_complete_returns_the_payload_or_fails() -> None:
    found = {"status": "found", "count": 2, "rows": 9, "newest": "x", "profiles": []}

    assert _sensor().execute_complete({}, found) == found  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="lakeFS answered 503"):
        _sensor().execute_complete({}, {"status": "error", "message": "lakeFS answered 503"})  # type: ignore[arg-type]


def test_poke_mode_looks_once(store: VersionStore) -> None:
    sensor = _sensor(deferrable=False)

    assert not sensor.poke({}).is_done  # type: ignore[arg-type]
    _write(store, "b1")
    poked = sensor.poke({})  # type: ignore[arg-type]
    assert poked.is_done and poked.xcom_value["count"] == 1


def test_a_bad_since_fails_without_retrying(store: VersionStore) -> None:
    with pytest.raises(AirflowFailException, match="not an ISO timestamp"):
        _sensor(since="yesterday").execute({})  # type: ignore[arg-type]


def test_an_unknown_kind_is_refused_at_parse_time() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        _sensor(kind="reference")
