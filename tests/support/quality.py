"""Stored quality results for tests of what reads them (the CLI, the UI)."""

from __future__ import annotations

from datetime import UTC, datetime

from driftloop.monitoring.quality import BatchQuality, MetricEstimate


def scored(
    version: int,
    day: int,
    *,
    roc_auc: float | None,
    log_loss: float = 0.5,
    model: str = "credit_risk",
) -> BatchQuality:
    """``version``'s scores on the batch of 2026-03-<day>, each interval ±0.03."""
    values = {"log_loss": log_loss} | ({} if roc_auc is None else {"roc_auc": roc_auc})
    return BatchQuality(
        model=model,
        version=version,
        batch=f"2026-03-{day:02d}T0000Z",
        batch_commit=f"c{version}-{day}",
        labels_commit=f"c{version}-{day}",
        rows=1000,
        labelled_rows=900,
        metrics={
            name: MetricEstimate(value=v, low=v - 0.03, high=v + 0.03) for name, v in values.items()
        },
        scored_at=datetime(2026, 3, day, tzinfo=UTC),
    )
