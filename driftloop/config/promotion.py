"""Promotion settings: the policy a challenger must meet, the run modes, the served alias.

The one home of these names: the train DAG's form, the operators, the CLI and the core all
read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

CHAMPION = "champion"
"""The alias the service serves and a promotion moves."""

PromotionMode = Literal["auto", "require_approval", "never"]
"""How a train run promotes: by the policy alone, after a person approves, or not at all."""
PROMOTION_MODES: tuple[PromotionMode, ...] = get_args(PromotionMode)

Direction = Literal["higher", "lower"]

METRIC_DIRECTIONS: dict[str, Direction] = {
    "roc_auc": "higher",
    "pr_auc": "higher",
    "accuracy": "higher",
    "log_loss": "lower",
    "brier": "lower",
    "ece": "lower",
}
"""Which way is better for each metric a policy may name."""


class PromotionPolicy(BaseModel):
    """The rules a challenger must meet to be promoted.

    Attributes:
        primary_metric: the metric the challenger must improve.
        min_improvement: how much better than the champion the challenger must be on the
            primary metric, on the same holdout rows; an equal score is never enough.
        guard_metrics: the largest regression allowed on other metrics, measured in the
            metric's worse direction (higher log loss, lower AUC).
        absolute_floor: bounds every promoted model must meet, the first one included: a
            minimum for higher-is-better metrics, a maximum for lower-is-better ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_metric: str = "roc_auc"
    min_improvement: float = Field(default=0.002, ge=0)
    guard_metrics: dict[str, float] = Field(default_factory=lambda: {"log_loss": 0.02, "ece": 0.02})
    absolute_floor: dict[str, float] = Field(default_factory=lambda: {"roc_auc": 0.65})

    @model_validator(mode="after")
    def _known_metrics(self) -> PromotionPolicy:
        named = {self.primary_metric, *self.guard_metrics, *self.absolute_floor}
        unknown = sorted(named - set(METRIC_DIRECTIONS))
        if unknown:
            raise ValueError(
                f"metrics {unknown} cannot rank models; use one of {sorted(METRIC_DIRECTIONS)}"
            )
        negative = sorted(name for name, limit in self.guard_metrics.items() if limit < 0)
        if negative:
            raise ValueError(f"guard_metrics {negative} need a non-negative allowed regression")
        return self
