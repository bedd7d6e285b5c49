from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.sdk.execution_time.context import OutletEventAccessors
from airflow.sdk.execution_time.task_runner import _serialize_outlet_events

from driftloop.config import Settings, get_settings
from driftloop.monitoring.drift import DriftResult
from driftloop.monitoring.profiles import profile_frame, write_profile
from driftloop.monitoring.steps import reference_profile_for_training
from driftloop.registry import Registry
from driftloop.spec import DatasetSpec, load_spec
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop_provider.assets import BATCH_PROFILES
from driftloop_provider.monitoring import (
    ProfileBatchesOperator,
    RetrainGateOperator,
    ScoreDriftOperator,
    SendAlertOperator,
)
from driftloop_provider.notifiers import DriftloopNotifier, RetrainOutcomeNotifier
from tests.unit.monitoring.conftest import lineage, make_batch, publish_batch, quality_summary

DRIFT = {
    "drifted": True,
    "reason": "drift: 1 features drifted (at least 1 needed): income (ks p=0; hellinger=0.262)",
    "drifted_features": ["income"],
    "signature": "abc123",
    "report_html": "monitoring/credit_risk/reports/r.html",
    "report_json": "monitoring/credit_risk/reports/r.json",
}


class FakeTaskInstance:
    """The slice of the runtime task instance the operators use."""

    dag_id = "driftloop_drift_monitor"
    task_id = "retrain_gate"

    def __init__(self, running_train_runs: int = 0) -> None:
        self.running_train_runs = running_train_runs
        self.pushed: dict[str, Any] = {}

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        assert dag_id == "driftloop_train" and states == ["queued", "running"]
        return self.running_train_runs

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRIFTLOOP_MONITORING__SETTLE_SECONDS", "0")
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> VersionStore:
    store = open_store(get_settings())
    store.ensure_repository("main")
    return store


def _gate(drift: dict[str, Any], run_id: str, ti: FakeTaskInstance) -> list[str] | str:
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        drift=drift,
        retrain_task_id="trigger_retrain",
        alert_task_id="alert",
    )
    return gate.choose_branch({"ti": ti, "run_id": run_id})  # type: ignore[arg-type]


def test_the_gate_follows_nothing_without_drift(home: Path) -> None:
    ti = FakeTaskInstance()

    assert _gate({"drifted": False, "reason": "no drift"}, "run-1", ti) == []
    assert ti.pushed == {}


def test_the_gate_triggers_once_then_withholds_and_alerts(home: Path) -> None:
    first, second = FakeTaskInstance(), FakeTaskInstance()

    assert _gate(DRIFT, "run-1", first) == ["trigger_retrain", "alert"]
    assert _gate(DRIFT, "run-1", FakeTaskInstance()) == ["trigger_retrain", "alert"]  # a retry
    assert _gate(DRIFT, "run-2", second) == ["alert"]

    assert first.pushed["retrain_conf"] == {
        "reason": DRIFT["reason"],
        "signals": ["drift"],
        "drifted_features": ["income"],
        "evidence": {
            "drift": {"drifted_features": ["income"], "target_rows": None, "model_version": None}
        },
        "batches": [],
        "report": DRIFT["report_html"],
        "report_json": DRIFT["report_json"],
        "signature": "abc123",
        "triggered_by": "driftloop_drift_monitor/run-1",
    }
    assert first.pushed["alert"]["event"] == "retrain_triggered"
    assert second.pushed["decision"]["allowed"] is False
    assert second.pushed["decision"]["reason"].startswith("cooldown")
    assert second.pushed["alert"]["event"] == "retrain_withheld"


def test_the_gate_does_not_repeat_a_running_retrain(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITORING__GUARDS__COOLDOWN_MINUTES", "0")
    _gate(DRIFT, "run-1", FakeTaskInstance())
    ti = FakeTaskInstance(running_train_runs=1)

    assert _gate(DRIFT, "run-2", ti) == ["alert"]
    assert "already running" in ti.pushed["decision"]["reason"]


def test_failed_retrains_trip_the_breaker_and_alert(
    home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITORING__GUARDS__BREAKER_FAILURES", "2")
    failed = RetrainOutcomeNotifier(success=False)

    with caplog.at_level(logging.WARNING, logger="driftloop.monitoring.alerts"):
        failed({"ti": FakeTaskInstance(), "run_id": "run-1", "exception": "train failed"})
        failed({"ti": FakeTaskInstance(), "run_id": "run-1", "exception": "train failed"})
        assert "breaker_tripped" not in caplog.text  # the same run counted once
        failed({"ti": FakeTaskInstance(), "run_id": "run-2", "exception": "train failed"})

    assert "[retrain_failed]" in caplog.text
    assert "[breaker_tripped] Retraining of credit_risk stopped" in caplog.text
    assert _gate(DRIFT, "run-3", FakeTaskInstance()) == ["alert"]


def test_a_successful_retrain_closes_the_breaker(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITORING__GUARDS__BREAKER_FAILURES", "1")
    monkeypatch.setenv("DRIFTLOOP_MONITORING__GUARDS__COOLDOWN_MINUTES", "0")
    RetrainOutcomeNotifier(success=False)({"ti": FakeTaskInstance(), "run_id": "run-1"})
    assert _gate(DRIFT, "run-2", FakeTaskInstance()) == ["alert"]

    RetrainOutcomeNotifier(success=True)({"ti": FakeTaskInstance(), "run_id": "run-3"})

    assert _gate(DRIFT, "run-4", FakeTaskInstance()) == ["trigger_retrain", "alert"]


def test_the_generic_notifier_renders_and_sends(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = DriftloopNotifier(
        event="monitor_failed", title="Monitor failed", message="run {{ run_id }} failed"
    )

    with caplog.at_level(logging.WARNING, logger="driftloop.monitoring.alerts"):
        notifier({"ti": FakeTaskInstance(), "run_id": "run-9"})

    assert "[monitor_failed] Monitor failed: run run-9 failed" in caplog.text
    with pytest.raises(ValueError, match="event must be one of"):
        DriftloopNotifier(event="oops", title="t", message="m")


def test_send_alert_sends_the_gates_alert(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    ti = FakeTaskInstance()
    _gate(DRIFT, "run-1", ti)

    with caplog.at_level(logging.WARNING, logger="driftloop.monitoring.alerts"):
        sent = SendAlertOperator(task_id="alert", alert=ti.pushed["alert"]).execute({})  # type: ignore[arg-type]

    assert sent == {"event": "retrain_triggered", "delivered": False}
    assert "Drift in credit_risk: retrain triggered" in caplog.text


def _sent_events(outlet_events: OutletEventAccessors) -> list[dict[str, Any]]:
    """The Asset events the task runner reports to Airflow when the task succeeds."""
    return list(_serialize_outlet_events(outlet_events))


def test_the_ingest_profile_task_announces_only_the_profiles_it_wrote(
    store: VersionStore,
) -> None:
    spec = load_spec(get_settings().dataset_spec_path)
    first = publish_batch(store, spec, 2, rows=500)
    second = publish_batch(store, spec, 3, rows=500)
    published = store.resolve("main")
    task = ProfileBatchesOperator(task_id="profile", commit=published, outlets=[BATCH_PROFILES])
    events = OutletEventAccessors()

    result = task.execute({"outlet_events": events})  # type: ignore[arg-type]

    announced = {
        "dataset": spec.name,
        "batches": [first, second],
        "rows": 1000,
        "commit": published,
    }
    assert result == {"profiled": [first, second], "rows": 1000, "commit": published}
    assert _sent_events(events) == [
        {
            "dest_asset_key": {"name": "driftloop_batch_profiles", "uri": BATCH_PROFILES.uri},
            "extra": announced,
        }
    ]
    rerun = OutletEventAccessors()
    with pytest.raises(AirflowSkipException, match="has a profile: no event to send"):
        task.execute({"outlet_events": rerun})  # type: ignore[arg-type]
    assert _sent_events(rerun) == []


def test_the_monitors_profile_task_carries_on_when_nothing_is_new(store: VersionStore) -> None:
    task = ProfileBatchesOperator(task_id="profile_batches")

    result = task.execute({"outlet_events": OutletEventAccessors()})  # type: ignore[arg-type]

    assert result == {"profiled": [], "rows": 0, "commit": store.resolve("main")}


def test_score_drift_skips_without_new_profiles(store: VersionStore) -> None:
    with pytest.raises(AirflowSkipException, match="no new batch or serving profiles"):
        ScoreDriftOperator(task_id="score_drift").execute({"outlet_events": {}})  # type: ignore[arg-type]


def _champion(store: VersionStore) -> tuple[Settings, DatasetSpec]:
    """Version 1, trained on main as it is (no batches), is the champion."""
    settings = get_settings()
    spec = load_spec(settings.dataset_spec_path)
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    registry.register_version(
        spec.name, run_key="t1", lineage=lineage(store.resolve("main")), created_by="test"
    )
    uri = reference_profile_for_training(store, spec, make_batch(1), settings=settings)
    registry.set_reference_profile(spec.name, 1, uri)
    registry.move_alias(spec.name, "champion", 1, actor="test", reason="test")
    return settings, spec


def _serve(store: VersionStore, spec: DatasetSpec, frame: pd.DataFrame) -> str:
    """A serving profile of version 1, keyed as the service keys it; returns the key."""
    key = f"{spec.name}-v1-20240102T000000Z-w1"
    write_profile(
        store,
        dataset=spec.name,
        kind="serving",
        key=key,
        data=profile_frame(frame.drop(columns=[spec.target]), spec),
        rows=len(frame),
    )
    return key


def test_score_drift_returns_the_summary_and_logs_what_it_compared(
    store: VersionStore, capfd: pytest.CaptureFixture[str]
) -> None:
    _, spec = _champion(store)
    key = _serve(store, spec, make_batch(2, shift={"income": 0.5}))
    quality = quality_summary(degraded=False)
    task = ScoreDriftOperator(task_id="score_drift", quality=quality)

    summary = task.execute({"outlet_events": {}})  # type: ignore[arg-type]
    logged = "".join(capfd.readouterr())

    assert summary["drifted"] and summary["drifted_features"] == ["income"]
    assert summary["scores"]["income"]["hellinger"] > 0.15
    assert spec.target not in summary["scores"]  # serving profiles carry no labels
    assert summary["report_html"].endswith(".html")
    assert summary["model_version"] == 1 and summary["batches"] == []
    assert summary["serving"]["profiles"] == 1 and summary["serving"]["rows"] == 10_000
    assert f"    {key}: 10000 rows" in logged
    assert "judged against version 1 of credit_risk: reference lakefs://" in logged
    stored = store.read_object("monitoring", summary["report_json"])
    assert DriftResult.model_validate_json(stored).model_dump(mode="json")["quality"] == quality
    page = store.read_object("monitoring", summary["report_html"]).decode()
    assert '<h2>Model quality <span class="badge steady">Holding</span></h2>' in page


def test_score_drift_refuses_what_is_not_a_quality_summary(store: VersionStore) -> None:
    broken = quality_summary(degraded=True)
    del broken["evidence"]["pooled"]
    task = ScoreDriftOperator(task_id="score_drift", quality=broken)

    expected = r"not a quality check's summary(.|\n)*evidence\.pooled\n  Field required"
    with pytest.raises(AirflowFailException, match=expected):
        task.execute({"outlet_events": {}})  # type: ignore[arg-type]


def test_score_drift_says_what_is_still_settling(
    store: VersionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, spec = _champion(store)
    monkeypatch.setenv("DRIFTLOOP_MONITORING__SETTLE_SECONDS", "600")
    key = _serve(store, spec, make_batch(2))

    with pytest.raises(AirflowSkipException, match=rf"serving {key}: still settling, ready at 20"):
        ScoreDriftOperator(task_id="score_drift").execute({"outlet_events": {}})  # type: ignore[arg-type]
