"""The quality operator and the gate's use of its verdict, without a running Airflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from driftloop.config import get_settings
from driftloop.versioning.factory import open_store
from driftloop_provider.assets import BATCH_QUALITY
from driftloop_provider.monitoring import RetrainGateOperator
from driftloop_provider.quality import ScoreQualityOperator
from tests.operators.test_monitoring import DRIFT, FakeTaskInstance

QUALITY = {
    "degraded": True,
    "reason": "quality: roc_auc 0.610 [0.590, 0.630] vs 0.780 on the holdout, worse by 0.170",
    "signature": "q1",
    "model_version": 1,
    "evidence": {"metric": "roc_auc", "holdout": 0.78, "rows": 4000},
    "batches": ["2026-03-02T0000Z"],
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    open_store(get_settings()).ensure_repository("main")
    return tmp_path / "home"


def _gate(drift: object, quality: object, ti: FakeTaskInstance) -> list[str] | str:
    gate = RetrainGateOperator(
        task_id="retrain_gate",
        drift=drift,
        quality=quality,
        retrain_task_id="trigger_retrain",
        alert_task_id="alert",
    )
    return gate.choose_branch({"ti": ti, "run_id": "run-1"})  # type: ignore[arg-type]


def test_score_quality_skips_without_a_champion(home: Path) -> None:
    task = ScoreQualityOperator(task_id="score_quality", outlets=[BATCH_QUALITY])

    with pytest.raises(AirflowSkipException, match="has no champion"):
        task.execute({"outlet_events": {}})  # type: ignore[arg-type]


def test_the_gate_retrains_for_quality_when_drift_skipped(home: Path) -> None:
    ti = FakeTaskInstance()

    assert _gate(None, QUALITY, ti) == ["trigger_retrain", "alert"]
    conf = ti.pushed["retrain_conf"]
    assert conf["reason"] == QUALITY["reason"]
    assert conf["signals"] == ["quality"]
    assert conf["batches"] == QUALITY["batches"]
    assert conf["evidence"]["quality"]["holdout"] == 0.78
    assert ti.pushed["alert"]["title"] == "Quality loss in credit_risk: retrain triggered"


def test_retrain_on_drift_ignores_a_quality_loss(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_MONITORING__RETRAIN_ON", "drift")
    ti = FakeTaskInstance()

    assert _gate({"drifted": False, "reason": "no drift"}, QUALITY, ti) == []
    assert ti.pushed == {}
    assert _gate(DRIFT, QUALITY, ti) == ["trigger_retrain", "alert"]
    assert ti.pushed["retrain_conf"]["signals"] == ["drift"]
