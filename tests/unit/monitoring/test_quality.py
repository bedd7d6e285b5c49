"""The quality rule and how it combines with drift at the retrain gate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop.config.monitoring import GuardSettings, QualityPolicy
from driftloop.exceptions import MonitoringError
from driftloop.monitoring.guards import RetrainGuard
from driftloop.monitoring.quality import MetricEstimate, judge_quality
from driftloop.monitoring.retrain import gate_retrain, retrain_signal
from driftloop.registry import ModelVersion, VersionStatus
from tests.unit.monitoring.conftest import lineage

POLICY = QualityPolicy(tolerance=0.02, min_rows=1000)
BATCHES = ["2026-03-02T0000Z", "2026-03-03T0000Z"]
DRIFT = {
    "drifted": True,
    "reason": "drift: 1 features drifted (at least 1 needed): income",
    "drifted_features": ["income"],
    "signature": "d1",
    "batches": [{"key": "2026-03-03T0000Z", "rows": 10}],
    "report_html": "r.html",
    "report_json": "r.json",
}


def _version(**metrics: float) -> ModelVersion:
    return ModelVersion(
        model="credit_risk",
        version=3,
        run_key="r",
        status=VersionStatus.REGISTERED,
        lineage=lineage().model_copy(update={"metrics": metrics}),
        reference_profile_uri=None,
        created_by="t",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def _judge(estimate: MetricEstimate, rows: int = 4000, policy: QualityPolicy = POLICY, **m):
    metric = policy.metric
    return judge_quality(
        {metric: estimate},
        dataset="credit_risk",
        version=_version(**(m or {"roc_auc": 0.80})),
        rows=rows,
        batches=BATCHES,
        policy=policy,
    )


def test_a_drop_beyond_tolerance_with_the_interval_below_the_holdout_fires() -> None:
    verdict = _judge(MetricEstimate(value=0.70, low=0.68, high=0.72))

    assert verdict.degraded
    assert verdict.reason.startswith("quality: roc_auc 0.700 [0.680, 0.720] vs 0.800")
    summary = verdict.summary()
    assert summary["evidence"]["holdout"] == 0.80
    assert summary["evidence"]["rows"] == 4000
    assert summary["batches"] == BATCHES


def test_too_few_labelled_rows_wait_however_bad_the_metric() -> None:
    verdict = _judge(MetricEstimate(value=0.5, low=0.4, high=0.6), rows=999)

    assert not verdict.degraded
    assert "needs 1000 labelled rows" in verdict.reason


def test_an_interval_reaching_the_holdout_value_does_not_fire() -> None:
    verdict = _judge(MetricEstimate(value=0.70, low=0.55, high=0.81))

    assert not verdict.degraded
    assert "its interval reaches the holdout value" in verdict.reason


def test_a_drop_within_the_tolerance_does_not_fire() -> None:
    verdict = _judge(MetricEstimate(value=0.785, low=0.781, high=0.789))

    assert not verdict.degraded
    assert "within the tolerance" in verdict.reason


def test_for_a_loss_metric_worse_means_higher() -> None:
    policy = QualityPolicy(metric="log_loss", tolerance=0.02, min_rows=1000)
    worse = _judge(MetricEstimate(value=0.6, low=0.55, high=0.65), policy=policy, log_loss=0.45)
    better = _judge(MetricEstimate(value=0.4, low=0.38, high=0.42), policy=policy, log_loss=0.45)

    assert worse.degraded and not better.degraded


def test_without_a_holdout_value_the_rule_cannot_fire() -> None:
    verdict = _judge(MetricEstimate(value=0.1, low=0.0, high=0.2), pr_auc=0.5)

    assert not verdict.degraded
    assert "no holdout roc_auc" in verdict.reason


QUALITY = _judge(MetricEstimate(value=0.70, low=0.68, high=0.72)).summary()
CALM = _judge(MetricEstimate(value=0.80, low=0.78, high=0.82)).summary()


@pytest.mark.parametrize(
    ("drift", "quality", "mode", "signals"),
    [
        (DRIFT, QUALITY, "any", ["quality", "drift"]),
        (None, QUALITY, "any", ["quality"]),
        (DRIFT, CALM, "any", ["drift"]),
        (DRIFT, QUALITY, "drift", ["drift"]),
        (None, QUALITY, "drift", None),
        (DRIFT, CALM, "quality", None),
        (DRIFT, QUALITY, "quality", ["quality"]),
        (DRIFT, QUALITY, "both", ["quality", "drift"]),
        (DRIFT, CALM, "both", None),
        (None, QUALITY, "both", None),
    ],
)
def test_the_modes_combine_drift_and_quality(drift, quality, mode, signals) -> None:
    signal = retrain_signal(drift, quality, mode)

    if signals is None:
        assert signal is None
        return
    assert signal is not None
    assert signal["signals"] == signals
    assert signal["reason"].startswith(signals[0])
    assert list(signal["evidence"]) == signals
    if "quality" in signals:
        assert set(BATCHES) <= set(signal["batches"])


def test_the_gate_retrains_for_quality_under_the_same_guards(tmp_path: Path) -> None:
    guard = RetrainGuard(
        url=f"sqlite:///{tmp_path / 'r.db'}", scope="credit_risk", settings=GuardSettings()
    )

    def gate(key: str):
        return gate_retrain(
            guard,
            None,
            quality=QUALITY,
            dataset="credit_risk",
            train_running=False,
            key=key,
            triggered_by="t",
        )

    first, second = gate("run-1"), gate("run-2")

    assert first.decision.allowed
    assert first.conf["reason"].startswith("quality:")
    assert first.conf["evidence"]["quality"]["pooled"]["high"] == 0.72
    assert first.conf["batches"] == BATCHES
    assert first.alert.title == "Quality loss in credit_risk: retrain triggered"
    assert not second.decision.allowed
    assert second.decision.reason.startswith("cooldown")
    with pytest.raises(MonitoringError, match="nothing asks for a retrain"):
        gate_retrain(
            guard,
            None,
            quality=QUALITY,
            retrain_on="drift",
            dataset="credit_risk",
            train_running=False,
            key="run-3",
            triggered_by="t",
        )


def test_the_label_published_last_wins_whatever_the_batch_keys(local_store, spec) -> None:
    import pandas as pd

    from driftloop.data.sources import to_parquet_bytes
    from driftloop.monitoring.quality import late_labels

    dataset = POLICY.labels_of(spec.name)
    # File batches are keyed by their content's hash: the later one may sort first.
    for key, label in (("file-b", "no"), ("file-a", "yes")):
        branch = f"ingest-{dataset}-{key}"
        local_store.create_branch(branch, "main")
        labels = pd.DataFrame({spec.id_column: ["id-1", f"id-{key}"], spec.target: [label] * 2})
        local_store.write_object(branch, f"data/{dataset}/{key}.parquet", to_parquet_bytes(labels))
        local_store.commit(branch, "Stage labels", {"dataset": dataset, "batch": key})
        local_store.merge(branch, "main", "Publish labels", {"dataset": dataset, "batch": key})

    landed = late_labels(local_store, spec, POLICY, ref="main", log_limit=100)

    assert landed.to_dict() == {"id-1": "yes", "id-file-b": "no", "id-file-a": "yes"}
