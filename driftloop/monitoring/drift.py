"""Drift scores between a target profile and a reference profile, the verdict, and the report.

Per feature: KS for numbers and chi-square for categories (whylogs'
``calculate_drift_scores``), plus a Hellinger distance computed from the same
sketches, and the categories the reference never saw. A feature drifts when the
test is significant *and* the Hellinger distance is large enough: on sketches of
hundreds of thousands of rows, KS and chi-square call even harmless differences
significant (the quantile sketch's own rank error is about 1%), so significance
alone would retrain on noise; at a few hundred rows, the p-value keeps a noisy
Hellinger distance from counting. A column named in a validation warning of a batch in
the target (values beyond the learned range, unseen categories, more nulls) counts as
drifted too when the policy says so. A :class:`~driftloop.config.monitoring.DriftPolicy`
then turns the features into one verdict.

A :class:`DriftResult` says what was compared: the model version and its reference
profile, each batch (key, rows, validation warnings) and serving window in the target,
and what is in the window but could not be scored yet (a serving profile still
settling, a published batch not profiled yet). The monitor's quality check of the same
run, when it scored something, rides along (:class:`QualitySummary`), so one report shows
both signals.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from driftloop.config.monitoring import DriftPolicy, FeatureThresholds
from driftloop.exceptions import ConfigError
from driftloop.monitoring import sketches
from driftloop.monitoring.profiles import ProfileRef, ValidationWarning, read_view
from driftloop.monitoring.quality import QualitySummary
from driftloop.monitoring.report_html import render_drift_report
from driftloop.versioning.transact import transact

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from whylogs.core.view.column_profile_view import ColumnProfileView

    from driftloop.monitoring.sketches import FeatureDistribution
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

FeatureRole = Literal["numeric", "categorical", "target"]

# A window may hold thousands of serving profiles; people read the first ones.
_LISTED_SERVING = 10


class FeatureDrift(BaseModel):
    """The drift scores of one column.

    ``statistic`` is ``None`` when the test could not run or is infinite (chi-square
    with a category the reference never saw: see ``new_categories``).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    role: FeatureRole
    algorithm: Literal["ks", "chi-square"] | None = None
    statistic: float | None = None
    p_value: float | None = None
    hellinger: float | None = None
    new_categories: list[str] = Field(default_factory=list)
    new_category_share: float = 0.0
    thresholds: FeatureThresholds
    drifted: bool
    note: str | None = None
    validation_warning: str | None = Field(
        default=None, description="The validation warnings naming this column, by batch"
    )

    def describe(self) -> str:
        """Short evidence for a reason string, e.g. ``income (ks p=1e-30, hellinger=0.17)``."""
        parts = []
        if self.algorithm is not None and self.p_value is not None:
            parts.append(f"{self.algorithm} p={self.p_value:.2g}")
        if self.hellinger is not None:
            parts.append(f"hellinger={self.hellinger:.3f}")
        if self.new_categories:
            parts.append(
                f"new categories {', '.join(self.new_categories)}: "
                f"{self.new_category_share:.1%} of rows"
            )
        if self.validation_warning:
            parts.append(f"validation warning {self.validation_warning}")
        return f"{self.name} ({'; '.join(parts) or self.note or 'no score'})"


class WaitingProfile(BaseModel):
    """Data in the drift window that a check could not score yet, and when it can be."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["batch", "serving"]
    key: str
    reason: str
    rows: int | None = None
    ready_at: datetime | None = None

    def describe(self) -> str:
        """One line, e.g. ``serving credit_risk-v1-...: 300 rows settling, ready at ...``."""
        rows = f"{self.rows} rows " if self.rows is not None else ""
        ready = f", ready at {self.ready_at.isoformat(timespec='seconds')}" if self.ready_at else ""
        return f"{self.kind} {self.key}: {rows}{self.reason}{ready}"


class DriftResult(BaseModel):
    """The outcome of one drift check: verdict, reason, per-feature table, what was compared.

    ``model_version`` is the version judged (its reference profile is ``reference_id``,
    its training data commit ``data_commit``); ``batches`` and ``serving`` are the
    profiles merged into the target, ``waiting`` what is in the window but not scored
    yet, and ``trained_batches`` how many batches the version was trained on (never in
    the target). ``newest_profile_at`` is where the monitor's checkpoint moves. ``quality``
    is the summary of the quality check that ran before it in the same monitor run
    (``None``: none scored anything). Reports written before these fields existed still load.
    """

    model_config = ConfigDict(frozen=True)

    dataset: str
    drifted: bool
    reason: str
    drifted_features: list[str]
    features: list[FeatureDrift]
    signature: str = Field(
        description="Identifies this drift: the reference and the drifted features"
    )
    reference_id: str | None = None
    target_ids: list[str] = Field(default_factory=list)
    target_rows: int
    reference_rows: int
    checked_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    newest_profile_at: datetime | None = None
    report_json: str | None = None
    report_html: str | None = None
    model_version: int | None = None
    data_commit: str | None = None
    live_since: datetime | None = None
    trained_batches: int = 0
    batches: list[ProfileRef] = Field(default_factory=list)
    serving: list[ProfileRef] = Field(default_factory=list)
    waiting: list[WaitingProfile] = Field(default_factory=list)
    quality: QualitySummary | None = None

    def summary(self) -> dict[str, Any]:
        """Small JSON for XCom, Asset events and a retrain's conf.

        Batches are listed one by one; serving windows (one per worker and interval, so
        possibly thousands) as their count, rows and span: the JSON report lists each.
        """
        return {
            "dataset": self.dataset,
            "drifted": self.drifted,
            "reason": self.reason,
            "drifted_features": self.drifted_features,
            "signature": self.signature,
            "scores": {
                f.name: {
                    "p_value": f.p_value,
                    "hellinger": f.hellinger,
                    "drifted": f.drifted,
                    "validation_warning": f.validation_warning,
                }
                for f in self.features
            },
            "model_version": self.model_version,
            "reference": self.reference_id,
            "target_rows": self.target_rows,
            "batches": [
                {
                    "key": p.key,
                    "rows": p.rows,
                    "validation_warnings": [w.message for w in p.validation_warnings],
                }
                for p in self.batches
            ],
            "serving": {
                "profiles": len(self.serving),
                "rows": sum(p.rows for p in self.serving),
                "since": _iso(self.live_since),
                "window_start": _iso(_earliest(p.window_start for p in self.serving)),
                "window_end": _iso(_latest(p.window_end for p in self.serving)),
            },
            "waiting": [w.describe() for w in self.waiting],
            "newest_profile_at": _iso(self.newest_profile_at),
            "report_json": self.report_json,
            "report_html": self.report_html,
        }

    def describe_window(self) -> list[str]:
        """What was compared, for people: the reference, each scored batch, the serving windows.

        Also what was left out and why: the batches the version was trained on, and
        profiles in the window that are not ready yet.
        """
        judged = f"version {self.model_version}" if self.model_version is not None else "the model"
        lines = [
            f"judged against {judged} of {self.dataset}: reference {self.reference_id} "
            f"({self.reference_rows} rows)"
        ]
        if self.data_commit:
            lines.append(
                f"left out: the {self.trained_batches} batches {judged} was trained on "
                f"(data commit {self.data_commit[:12]})"
            )
        lines.append(
            f"target: {self.target_rows} rows (batches: {len(self.batches)}, "
            f"serving windows: {len(self.serving)})"
        )
        for batch in self.batches:
            lines.append(f"  batch {batch.key}: {batch.rows} rows{_span(batch)}")
            lines.extend(
                f"    validation warning ({w.rule or w.expectation}): {w.message}"
                for w in batch.validation_warnings
            )
        since = (
            f" since it went live at {self.live_since.isoformat(timespec='seconds')}"
            if self.live_since
            else ""
        )
        if self.serving:
            lines.append(f"  serving windows of {judged}{since}:")
        lines.extend(
            f"    {window.key}: {window.rows} rows{_span(window)}"
            for window in self.serving[:_LISTED_SERVING]
        )
        if len(self.serving) > _LISTED_SERVING:
            more = self.serving[_LISTED_SERVING:]
            lines.append(
                f"    and {len(more)} more ({sum(p.rows for p in more)} rows), "
                "listed in the JSON report"
            )
        if self.waiting:
            lines.append("not scored yet:")
            lines.extend(f"  {w.describe()}" for w in self.waiting)
        return lines


class DriftScorer(Protocol):
    """Scores columns of a target profile against a reference; whylogs is the one backend."""

    def score(
        self, target: bytes, reference: bytes, spec: DatasetSpec, policy: DriftPolicy
    ) -> tuple[list[FeatureDrift], int, int]:
        """Return per-column scores, then the target's and the reference's row counts."""
        ...

    def distributions(
        self, target: bytes, reference: bytes, features: Sequence[FeatureDrift]
    ) -> list[FeatureDistribution]:
        """Each scored feature's target and reference shares over shared bins, for the report."""
        ...


class WhylogsDriftScorer:
    """KS / chi-square from whylogs, Hellinger distances and new categories from its sketches."""

    def score(
        self, target: bytes, reference: bytes, spec: DatasetSpec, policy: DriftPolicy
    ) -> tuple[list[FeatureDrift], int, int]:
        """Score every spec column present in both profiles.

        Raises:
            ProfileError: either side is not a profile.
        """
        from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

        target_view, reference_view = read_view(target), read_view(reference)
        scores = calculate_drift_scores(
            target_view=target_view, reference_view=reference_view, with_thresholds=True
        )
        roles: dict[str, FeatureRole] = {f.name: f.kind for f in spec.features}
        roles[spec.target] = "target"
        features = []
        for name, role in roles.items():
            target_column = target_view.get_column(name)
            reference_column = reference_view.get_column(name)
            thresholds = policy.thresholds_for(name)
            if target_column is None or reference_column is None:
                if role != "target":
                    side = "target" if target_column is None else "reference"
                    features.append(
                        FeatureDrift(
                            name=name,
                            role=role,
                            thresholds=thresholds,
                            drifted=False,
                            note=f"not in the {side} profile",
                        )
                    )
                continue
            features.append(
                _column_drift(
                    name,
                    role,
                    score=scores.get(name),
                    target=target_column,
                    reference=reference_column,
                    thresholds=thresholds,
                )
            )
        return features, sketches.rows(target_view), sketches.rows(reference_view)

    def distributions(
        self, target: bytes, reference: bytes, features: Sequence[FeatureDrift]
    ) -> list[FeatureDistribution]:
        """Numbers over equal-width bins (KLL sketches), categories by frequent items.

        Features missing from either profile, or without sketches, are left out.

        Raises:
            ProfileError: either side is not a profile.
        """
        target_view, reference_view = read_view(target), read_view(reference)
        found = []
        for feature in features:
            target_column = target_view.get_column(feature.name)
            reference_column = reference_view.get_column(feature.name)
            if target_column is None or reference_column is None:
                continue
            draw = (
                sketches.numeric_distribution
                if feature.role == "numeric"
                else sketches.category_distribution
            )
            distribution = draw(feature.name, target_column, reference_column)
            if distribution is not None:
                found.append(distribution)
        return found


def score_drift(
    target: bytes,
    reference: bytes,
    spec: DatasetSpec,
    policy: DriftPolicy,
    *,
    reference_id: str | None = None,
    target_ids: Sequence[str] = (),
    validation_warnings: Mapping[str, Sequence[ValidationWarning]] | None = None,
    scorer: DriftScorer | None = None,
) -> DriftResult:
    """Score ``target`` against ``reference`` and decide whether the data drifted.

    Args:
        target: the serialised profile of the new data.
        reference: the serialised profile the model was trained on.
        spec: the dataset spec (which columns are numeric, categorical, the target).
        policy: thresholds and the decision rule.
        reference_id: how the reference is known (its URI), recorded in the result.
        target_ids: how the target profiles are known (their paths).
        validation_warnings: the validation warnings of the batches in the target, by
            batch key; see ``DriftPolicy.validation_warnings_count``.
        scorer: the backend; whylogs by default.

    Raises:
        ConfigError: the policy names columns the spec does not have.
        ProfileError: either side is not a profile.
    """
    _check_policy(policy, spec)
    scored, target_rows, reference_rows = (scorer or WhylogsDriftScorer()).score(
        target, reference, spec, policy
    )
    features = _with_validation_warnings(scored, validation_warnings or {}, policy)
    drifted, reason = decide(features, policy)
    drifted_features = [f.name for f in features if f.drifted]
    identity = json.dumps([reference_id, sorted(drifted_features)])
    return DriftResult(
        dataset=spec.name,
        drifted=drifted,
        reason=reason,
        drifted_features=drifted_features,
        features=features,
        signature=hashlib.sha256(identity.encode()).hexdigest()[:16],
        reference_id=reference_id,
        target_ids=list(target_ids),
        target_rows=target_rows,
        reference_rows=reference_rows,
        checked_at=datetime.now(UTC),
    )


def decide(features: Sequence[FeatureDrift], policy: DriftPolicy) -> tuple[bool, str]:
    """Apply the policy to per-feature outcomes; return the verdict and its reason."""
    drifted = [f for f in features if f.drifted]
    keys = [f for f in drifted if f.name in policy.key_features]
    counted = [f for f in drifted if f.role != "target"]
    evidence = ", ".join(f.describe() for f in drifted)
    need = policy.min_drifted_features
    if keys:
        names = ", ".join(f.name for f in keys)
        return True, f"drift: key feature {names} drifted; all drifted: {evidence}"
    if len(counted) >= need:
        return True, f"drift: {len(counted)} features drifted (at least {need} needed): {evidence}"
    if drifted:
        return False, (
            f"no drift: {len(counted)} features drifted, fewer than the {need} needed: {evidence}"
        )
    scored = [f for f in features if f.hellinger is not None]
    if not scored:
        return False, "no drift: no feature could be scored"
    largest = max(scored, key=lambda f: f.hellinger or 0.0)
    return False, (
        f"no drift: no feature drifted; largest Hellinger distance {largest.name} "
        f"{largest.hellinger:.3f}"
    )


def write_drift_report(
    store: VersionStore,
    result: DriftResult,
    *,
    target: bytes,
    reference: bytes,
    branch: str = "monitoring",
    source_ref: str = "main",
    scorer: DriftScorer | None = None,
) -> DriftResult:
    """Write the result as JSON and the HTML report to ``branch`` and commit them.

    Paths: ``monitoring/<dataset>/reports/<checked_at>-<id>.json`` and ``.html``. The HTML
    report is one self-contained page (:mod:`~driftloop.monitoring.report_html`): the verdict,
    the model's quality (``result.quality``), the scores and each feature's distributions,
    drawn from the two profiles. The JSON is the whole result, ``quality`` included.

    Returns:
        The result with ``report_json`` and ``report_html`` set.

    Raises:
        ProfileError: either side is not a profile.
        VersioningError: the store failed.
    """
    distributions = (scorer or WhylogsDriftScorer()).distributions(
        target, reference, result.features
    )
    ids = json.dumps([result.reference_id, result.target_ids])
    name = f"{result.checked_at:%Y%m%dT%H%M%SZ}-{hashlib.sha256(ids.encode()).hexdigest()[:8]}"
    folder = f"monitoring/{result.dataset}/reports"
    written = result.model_copy(
        update={"report_json": f"{folder}/{name}.json", "report_html": f"{folder}/{name}.html"}
    )
    html = render_drift_report(written, distributions)
    verdict = "drift" if result.drifted else "no drift"
    with transact(
        store,
        branch,
        source_ref=source_ref,
        message=f"Drift report {name} of {result.dataset}: {verdict}",
        metadata={
            "drifted": str(result.drifted).lower(),
            "signature": result.signature,
            "report": name,
        },
    ) as tx:
        tx.write(f"{folder}/{name}.json", written.model_dump_json(indent=2).encode())
        tx.write(f"{folder}/{name}.html", html.encode())
    return written


def _check_policy(policy: DriftPolicy, spec: DatasetSpec) -> None:
    known = {*spec.feature_names, spec.target}
    named = {*policy.key_features, *policy.feature_thresholds}
    unknown = sorted(named - known)
    if unknown:
        raise ConfigError(
            f"the drift policy names {unknown}, which dataset {spec.name!r} does not have"
        )


def _with_validation_warnings(
    features: list[FeatureDrift],
    warnings: Mapping[str, Sequence[ValidationWarning]],
    policy: DriftPolicy,
) -> list[FeatureDrift]:
    """Attach each column's validation warnings; they drift it when the policy says so."""
    evidence: dict[str, list[str]] = {}
    for batch, batch_warnings in warnings.items():
        for warning in batch_warnings:
            if warning.column is not None and warning.rule in policy.validation_warning_rules:
                evidence.setdefault(warning.column, []).append(f"in {batch}: {warning.message}")
    return [
        feature.model_copy(
            update={
                "validation_warning": "; ".join(evidence[feature.name]),
                "drifted": feature.drifted or policy.validation_warnings_count,
            }
        )
        if feature.name in evidence
        else feature
        for feature in features
    ]


def _column_drift(
    name: str,
    role: FeatureRole,
    *,
    score: dict[str, Any] | None,
    target: ColumnProfileView,
    reference: ColumnProfileView,
    thresholds: FeatureThresholds,
) -> FeatureDrift:
    categorical = role != "numeric"
    new, new_share = sketches.new_categories(target, reference) if categorical else ([], 0.0)
    pmfs = (
        sketches.category_pmfs(target, reference)
        if categorical
        else sketches.numeric_pmfs(target, reference)
    )
    hellinger = sketches.hellinger(*pmfs) if pmfs else None
    p_value = _finite(score.get("pvalue")) if score else None
    statistic = _finite(score.get("statistic")) if score else None
    significant = p_value is not None and p_value < thresholds.p_value
    large = hellinger is not None and hellinger >= thresholds.hellinger
    note = None
    if score is None:
        note = "no drift test applies (empty or missing sketches)"
    elif statistic is None and new:
        note = "chi-square is infinite: the reference never saw some categories"
    return FeatureDrift(
        name=name,
        role=role,
        algorithm=score["algorithm"] if score else None,
        statistic=statistic,
        p_value=p_value,
        hellinger=hellinger,
        new_categories=new,
        new_category_share=new_share,
        thresholds=thresholds,
        drifted=(significant and large)
        or (bool(new) and new_share >= thresholds.new_category_share),
        note=note,
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _span(profile: ProfileRef) -> str:
    if profile.window_start is None or profile.window_end is None:
        return ""
    return (
        f" ({profile.window_start.isoformat(timespec='minutes')} to "
        f"{profile.window_end.isoformat(timespec='minutes')})"
    )
