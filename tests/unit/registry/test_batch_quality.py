"""Per-batch quality results in the registry's database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftloop.exceptions import VersionNotFound
from driftloop.monitoring.quality import BatchQuality, MetricEstimate, QualityStore
from driftloop.registry import Registry, VersionLineage

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _result(labelled: int, *, commit: str = "c1", auc: float = 0.7) -> BatchQuality:
    return BatchQuality(
        model="credit_risk",
        version=1,
        batch="2026-03-01T0000Z",
        batch_commit=commit,
        labels_commit=f"labels-{labelled}",
        rows=1000,
        labelled_rows=labelled,
        metrics={"roc_auc": MetricEstimate(value=auc, low=auc - 0.02, high=auc + 0.02)},
        scored_at=AT,
    )


@pytest.fixture
def quality(registry: Registry, db_url: str, lineage: VersionLineage):
    registry.register_version("credit_risk", run_key="r1", lineage=lineage, created_by="t")
    store = QualityStore(url=db_url)
    yield store
    store.close()


def test_a_result_is_stored_once_per_version_and_batch_commit(quality: QualityStore) -> None:
    first = quality.record(_result(600))
    again = quality.record(_result(600, auc=0.1))  # a retried task: same labelled rows

    assert again == first
    assert quality.results("credit_risk") == [first]
    assert quality.results("credit_risk", 2) == []


def test_late_labels_update_the_batch_row_in_place(quality: QualityStore) -> None:
    quality.record(_result(600))
    later = quality.record(_result(1000, auc=0.65))
    other = quality.record(_result(500, commit="c2"))

    assert quality.results("credit_risk") == [later, other]
    assert later.labelled_rows == 1000
    assert later.labels_commit == "labels-1000"
    assert later.metrics["roc_auc"].value == 0.65


def test_results_of_an_unknown_model_are_empty_and_recording_one_fails(db_url: str) -> None:
    store = QualityStore(url=db_url)
    try:
        assert store.results("nope") == []
        with pytest.raises(VersionNotFound, match="no model 'credit_risk'"):
            store.record(_result(10))
    finally:
        store.close()
