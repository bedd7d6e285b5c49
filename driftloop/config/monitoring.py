"""Monitoring configuration: the drift policy, the retrain guards and where alerts go.

Kept free of whylogs and of the rest of :mod:`driftloop.monitoring` so that
:mod:`driftloop.config` can import it cheaply.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

QualityMetric = Literal["roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy"]
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece"})
"""Quality metrics that get worse as they grow; the others get worse as they shrink."""


class FeatureThresholds(BaseModel):
    """When one feature counts as drifted.

    A feature drifts when its test rejects "same distribution" (``p_value``) *and* the
    difference is large enough to matter (``hellinger``); or when categories the
    reference never saw make up at least ``new_category_share`` of its rows.

    Attributes:
        p_value: largest p-value (KS for numbers, chi-square for categories) that counts.
        hellinger: smallest Hellinger distance (0 = identical, 1 = disjoint) that counts.
        new_category_share: share of rows in unseen categories that drifts a category alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    p_value: float = Field(default=0.05, gt=0, le=1)
    hellinger: float = Field(default=0.1, ge=0, le=1)
    new_category_share: float = Field(default=0.01, gt=0, le=1)


class ThresholdOverride(BaseModel):
    """Thresholds of one feature that differ from the policy's defaults (unset ones inherit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    p_value: float | None = Field(default=None, gt=0, le=1)
    hellinger: float | None = Field(default=None, ge=0, le=1)
    new_category_share: float | None = Field(default=None, gt=0, le=1)


class DriftPolicy(BaseModel):
    """The rule that turns per-feature scores into one verdict.

    The data drifted when any of ``key_features`` drifted, or when at least
    ``min_drifted_features`` features did. The target column is scored and reported
    but counts only when it is named in ``key_features``.

    A validation warning is a published batch's own report that a column changed (values
    beyond the learned range, unseen categories, more nulls): the validation suite saw
    every row, where the drift scores compare sketches. With ``validation_warnings_count``,
    a column named in such a warning of a batch in the drift target counts as drifted.

    Attributes:
        key_features: features (or the target) whose drift alone is enough.
        min_drifted_features: how many drifted features are enough otherwise.
        thresholds: the default per-feature thresholds.
        feature_thresholds: per-feature overrides of ``thresholds``.
        min_rows: a window with fewer rows than this is not judged yet; it waits for more.
        validation_warnings_count: a column named in a validation warning (of a rule in
            ``validation_warning_rules``) of a scored batch counts as drifted.
        validation_warning_rules: the rules whose warnings are drift evidence; the names
            are those of the baseline suite's warning tier (``meta.driftloop.rule``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_features: list[str] = Field(default_factory=list)
    min_drifted_features: int = Field(default=1, ge=1)
    thresholds: FeatureThresholds = Field(default_factory=FeatureThresholds)
    feature_thresholds: dict[str, ThresholdOverride] = Field(default_factory=dict)
    min_rows: int = Field(default=1000, ge=1)
    validation_warnings_count: bool = True
    validation_warning_rules: list[str] = Field(
        default_factory=lambda: ["range", "categories", "nulls"]
    )

    def thresholds_for(self, feature: str) -> FeatureThresholds:
        """The thresholds that apply to ``feature``."""
        override = self.feature_thresholds.get(feature)
        if override is None:
            return self.thresholds
        return self.thresholds.model_copy(update=override.model_dump(exclude_none=True))


class QualityPolicy(BaseModel):
    """The rule that turns the champion's quality on labelled unseen batches into a verdict.

    The champion is scored on the labelled rows of every batch published after its
    training data, pooled. Its quality dropped when the pooled ``metric`` is worse than
    the champion's holdout value (recorded in its lineage at training) by more than
    ``tolerance``, *and* the whole bootstrap interval is worse than the holdout value
    (the interval excludes it), over at least ``min_rows`` labelled rows.

    Attributes:
        enabled: whether the monitor scores quality at all.
        metric: the primary metric the rule reads; each is reported either way.
        tolerance: how much worse than the holdout value the metric may be (absolute).
        min_rows: fewer labelled rows than this are not judged yet; they wait for more.
        resamples: bootstrap resamples behind each interval.
        confidence: the intervals' coverage (0.95: the 2.5th to 97.5th percentile).
        seed: the bootstrap's seed, so the same rows give the same intervals.
        labels_dataset: the dataset late labels are published as (id and target
            columns), joined by id onto rows published without a label;
            default ``<dataset>_labels``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    metric: QualityMetric = "roc_auc"
    tolerance: float = Field(default=0.02, ge=0)
    min_rows: int = Field(default=1000, ge=1)
    resamples: int = Field(default=200, ge=20, le=10_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = Field(default=0, ge=0)
    labels_dataset: str | None = Field(default=None, pattern=r"^\w[-\w]*$")

    def labels_of(self, dataset: str) -> str:
        """The dataset that carries late labels for ``dataset``."""
        return self.labels_dataset or f"{dataset}_labels"


class GuardSettings(BaseModel):
    """Limits on drift-triggered retraining.

    Attributes:
        cooldown_minutes: no retrain is triggered within this long of the previous one.
        max_retrains_per_day: most retrains triggered in any 24 hours.
        breaker_failures: after this many failed retrains in a row, retraining stops
            until a retrain succeeds or someone resets the breaker.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cooldown_minutes: float = Field(default=360.0, ge=0)
    max_retrains_per_day: int = Field(default=4, ge=1)
    breaker_failures: int = Field(default=3, ge=1)


class AlertSettings(BaseModel):
    """Where alerts go besides the log.

    Attributes:
        webhook_url: an http(s) URL that receives each alert as a JSON POST; kept
            secret because chat webhooks carry their token in the URL.
        webhook_token: sent as ``Authorization: Bearer <token>`` when set.
        webhook_timeout_seconds: how long one POST may take.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: SecretStr | None = None
    webhook_token: SecretStr | None = None
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("webhook_url")
    @classmethod
    def _http_only(cls, url: SecretStr | None) -> SecretStr | None:
        # urllib would also open file:// and ftp:// URLs: a webhook is http(s) only.
        if url is None or not url.get_secret_value():
            return None
        parts = urlsplit(url.get_secret_value())
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        # The token and the alert travel in the clear over http: only to this machine.
        if parts.scheme.lower() == "http" and parts.hostname not in LOOPBACK:
            raise ValueError(
                f"webhook_url must use https:// (plain http only to this machine, not "
                f"{parts.hostname})"
            )
        return url


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts a webhook may be reached at over plain http."""


class MonitoringSettings(BaseModel):
    """Drift monitoring: profiles, the drift policy, retrain guards and alerts.

    Attributes:
        branch: branch of the versioned store holding profiles, reports and the checkpoint;
            created from the main branch on first use.
        chunk_rows: frames are profiled this many rows at a time (bounds memory).
        settle_seconds: a serving profile counts only once it is this old: several
            workers flush at once, and one that stamped its profile a moment before
            another's (slow store, clock skew) must not land behind a checkpoint that
            already moved past the other's time. Batch profiles count at once (one
            profile task writes each, after the batch is published).
        batch_log_limit: how many commits of main are searched for a batch's interval.
        quality: the rule on the champion's quality on labelled unseen batches.
        retrain_on: which signals trigger a retrain: ``any`` (drift or quality, the
            default), ``drift`` or ``quality`` alone, or ``both`` (drift and quality in
            the same run). The guards apply to whichever fires.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    branch: str = Field(default="monitoring", pattern=r"^\w[-\w]*$")
    chunk_rows: int = Field(default=250_000, ge=1000)
    settle_seconds: float = Field(default=10.0, ge=0)
    batch_log_limit: int = Field(default=1000, ge=1)
    policy: DriftPolicy = Field(default_factory=DriftPolicy)
    quality: QualityPolicy = Field(default_factory=QualityPolicy)
    retrain_on: Literal["any", "drift", "quality", "both"] = "any"
    guards: GuardSettings = Field(default_factory=GuardSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
