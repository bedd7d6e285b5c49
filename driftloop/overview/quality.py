"""A version's quality over time: its scores on each labelled batch, beside its holdout value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

# The quality rule's own names: overview reads monitoring, not config (docs/architecture.md).
from driftloop.monitoring.quality import LOWER_IS_BETTER, METRICS, holdout_value

if TYPE_CHECKING:
    from driftloop.config.monitoring import QualityPolicy
    from driftloop.monitoring.quality import BatchQuality, MetricEstimate, QualityStore
    from driftloop.registry import ModelVersion


@dataclass(frozen=True)
class QualityHistory:
    """A version's scores on the labelled batches it was not trained on, oldest batch first.

    ``metric`` is the one the quality rule reads; ``holdout`` is the version's own value of
    it on the promotion holdout (``None``: its lineage has none, so the rule cannot fire).
    """

    version: int
    metric: str
    holdout: float | None
    tolerance: float
    min_rows: int
    results: list[BatchQuality]

    @property
    def lower_is_better(self) -> bool:
        """Whether the metric gets worse as it grows (log loss, Brier, ECE)."""
        return self.metric in LOWER_IS_BETTER

    @property
    def limit(self) -> float | None:
        """The holdout value moved by the tolerance towards worse: the rule's line."""
        if self.holdout is None:
            return None
        return (
            self.holdout + self.tolerance if self.lower_is_better else self.holdout - self.tolerance
        )

    @property
    def columns(self) -> list[str]:
        """The metrics any batch was scored with, in the monitor's order."""
        scored = {name for result in self.results for name in result.metrics}
        return [name for name in METRICS if name in scored]

    def estimates(self) -> list[MetricEstimate | None]:
        """The rule's metric on each batch (``None`` where that batch has no value)."""
        return [result.metrics.get(self.metric) for result in self.results]


def quality_history(
    quality: QualityStore, version: ModelVersion, policy: QualityPolicy
) -> QualityHistory:
    """``version``'s stored quality results with the rule's metric, holdout value and tolerance.

    Raises:
        RegistryUnavailable: the registry's database cannot be reached.
        RegistryError: the database failed.
    """
    return QualityHistory(
        version=version.version,
        metric=policy.metric,
        holdout=holdout_value(version, policy.metric),
        tolerance=policy.tolerance,
        min_rows=policy.min_rows,
        results=quality.results(version.model, version.version),
    )
