"""A registry's test data: a lineage as the training task records it."""

from __future__ import annotations

from driftloop.registry import VersionLineage


def sample_lineage() -> VersionLineage:
    """A complete lineage, as the training task would record it."""
    return VersionLineage(
        data_commit="c0ffee01",
        data_ref="main",
        validation={"success": True, "evaluated": 12, "failed": 0},
        params={"max_depth": 4, "eta": 0.1, "objective": "binary:logistic"},
        metrics={"auc": 0.91, "logloss": 0.33},
        holdout_metrics_champion={"auc": 0.89, "logloss": 0.35},
        code_version="driftloop 0.1.0 git 0123456789ab",
        artifact_uri="models/credit_risk/v1/model.ubj",
        artifact_commit="a11ce5",
        artifact_sha256="9" * 64,
        feature_schema={"features": [{"name": "income", "dtype": "float64"}]},
        tags={"trigger": "schedule"},
    )
