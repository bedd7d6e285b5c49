"""The monitor's quality step: score the champion on the labelled batches it has not seen.

The metrics and the threshold are the promotion holdout's (``evaluation.score_probabilities``
and the version's ``threshold`` parameter); each comes with a percentile bootstrap
interval, seeded, so the same rows always give the same numbers. The resamples are scored
together (``evaluation.score_resamples``): 200 resamples of 3,000 rows take about 0.1 s,
where scoring each through scikit-learn took about 4 s. This lives with training
because it loads and runs the model; the window, the late labels, the rule and the
storage are :mod:`driftloop.monitoring.quality`'s.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from driftloop.config.promotion import CHAMPION
from driftloop.exceptions import QualityCheckSkipped, VersionNotFound
from driftloop.monitoring.quality import (
    METRICS,
    BatchQuality,
    MetricEstimate,
    QualityStore,
    QualityVerdict,
    judge_quality,
    labelled_rows,
    late_labels,
    unseen_batches,
)
from driftloop.training.evaluation import (
    predict_probability,
    score_probabilities,
    score_resamples,
)
from driftloop.training.features import labels
from driftloop.training.model import TrainingParams

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import Registry
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore


_BLOCK_CELLS = 2_000_000
"""Resamples are scored in blocks of at most this many (resample, row) cells: 16 MB per array,
about six such arrays at a time."""


class QualityCheck(BaseModel):
    """One quality check: the verdict on the window and the batch results it (re)computed."""

    model_config = ConfigDict(frozen=True)

    verdict: QualityVerdict
    scored: list[BatchQuality]

    def summary(self) -> dict[str, Any]:
        """Small JSON for XCom and the Asset event: the verdict and each batch scored."""
        return self.verdict.summary(self.scored)


def bootstrap_metrics(
    y: np.ndarray,
    probability: np.ndarray,
    *,
    threshold: float,
    resamples: int,
    confidence: float,
    seed: int | list[int],
) -> dict[str, MetricEstimate]:
    """Each holdout metric of ``probability`` against labels ``y`` with a bootstrap interval.

    Rows are resampled with replacement ``resamples`` times (each resample's draws as row
    counts, scored by :func:`~driftloop.training.evaluation.score_resamples`, a block of
    resamples at a time); a resample holding a single class (no AUC) is left out. The
    interval is the percentile interval of the resamples at ``confidence``; with no usable
    resample it is the point.

    Raises:
        ValueError: ``y`` is empty or holds a single class.
    """
    if len(y) == 0 or y.min() == y.max():
        raise ValueError(f"cannot score {len(y)} labelled rows of a single class")
    point = score_probabilities(y, probability, threshold=threshold)
    rng = np.random.default_rng(seed)
    uniform = np.full(len(y), 1 / len(y))
    block = max(1, _BLOCK_CELLS // len(y))
    scores: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    for start in range(0, resamples, block):
        counts = rng.multinomial(len(y), uniform, size=min(block, resamples - start))
        for name, values in score_resamples(y, probability, counts, threshold=threshold).items():
            scores[name].append(values)
    table = np.column_stack([np.concatenate(scores[name] or [[]]) for name in METRICS])
    table = table[~np.isnan(table).any(axis=1)]
    tail = (1 - confidence) / 2
    estimates = {}
    for i, name in enumerate(METRICS):
        value = float(getattr(point, name))
        if len(table):
            low, high = np.quantile(table[:, i], [tail, 1 - tail])
            estimates[name] = MetricEstimate(value=value, low=float(low), high=float(high))
        else:
            estimates[name] = MetricEstimate(value=value, low=value, high=value)
    return estimates


def check_quality(
    store: VersionStore,
    registry: Registry,
    quality_store: QualityStore,
    spec: DatasetSpec,
    settings: Settings,
    *,
    only_new: bool = True,
) -> QualityCheck:
    """Score the champion on every labelled batch it has not seen; judge the pooled window.

    Batches whose labelled rows were scored before are not scored again (their stored
    results stand); a batch seen for the first time, or with more labelled rows since
    (late labels), is scored and its result stored. The rule then judges the labelled
    rows of the whole window, pooled.

    Args:
        store: the versioned store (batches on main, the champion's artifact).
        registry: the model registry (the champion and its lineage).
        quality_store: where batch results are stored.
        spec: the dataset's spec (target, id column, features).
        settings: driftloop's settings (``monitoring.quality``, the main branch).
        only_new: skip when no batch was (re)scored; ``False`` judges the window anyway.

    Raises:
        QualityCheckSkipped: quality monitoring is off, there is no champion, or (with
            ``only_new``) nothing new was scored.
        MonitoringError: the store no longer has the champion's training data commit.
        ArtifactCorrupt: the champion's model file fails its checksum.
        DataSourceError: a batch or a labels batch cannot be read.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    from driftloop.data.sources import read_parquet_bytes
    from driftloop.training.steps import load_champion_model

    policy = settings.monitoring.quality
    if not policy.enabled:
        raise QualityCheckSkipped("quality monitoring is off (monitoring.quality.enabled)")
    try:
        champion = registry.get_alias(spec.name, CHAMPION)
    except VersionNotFound:
        champion = None
    if champion is None:
        raise QualityCheckSkipped(f"model {spec.name!r} has no champion to judge yet")
    head = store.resolve(settings.main_branch)
    batches = unseen_batches(
        store, spec, champion, main=head, log_limit=settings.monitoring.batch_log_limit
    )
    late = late_labels(store, spec, policy, ref=head, log_limit=settings.monitoring.batch_log_limit)
    stored = {r.batch_commit: r for r in quality_store.results(spec.name, champion.version)}
    booster = load_champion_model(store, champion)
    threshold = float(champion.lineage.params.get("threshold", TrainingParams().threshold))
    pooled_y, pooled_p, judged, scored = [], [], [], []
    for batch in batches:
        frame = read_parquet_bytes(store.read_object(head, batch.path), label=batch.path)
        labelled = labelled_rows(frame, spec, late)
        if labelled.empty:
            continue
        y = labels(labelled, spec)
        probability = predict_probability(booster, labelled, spec)
        pooled_y.append(y)
        pooled_p.append(probability)
        judged.append(batch.key)
        before = stored.get(batch.commit)
        if (before is not None and before.labelled_rows == len(y)) or y.min() == y.max():
            continue
        metrics = bootstrap_metrics(
            y,
            probability,
            threshold=threshold,
            resamples=policy.resamples,
            confidence=policy.confidence,
            seed=[policy.seed, zlib.crc32(batch.commit.encode())],
        )
        result = BatchQuality(
            model=spec.name,
            version=champion.version,
            batch=batch.key,
            batch_commit=batch.commit,
            labels_commit=head,
            rows=len(frame),
            labelled_rows=len(y),
            metrics=metrics,
            scored_at=datetime.now(UTC),
        )
        scored.append(quality_store.record(result))
    if only_new and not scored:
        raise QualityCheckSkipped(
            f"no new labelled rows for version {champion.version} of {spec.name!r} in "
            f"{len(batches)} unseen batches"
        )
    y = np.concatenate(pooled_y) if pooled_y else np.array([], dtype=np.int8)
    probability = np.concatenate(pooled_p) if pooled_p else np.array([])
    pooled = (
        bootstrap_metrics(
            y,
            probability,
            threshold=threshold,
            resamples=policy.resamples,
            confidence=policy.confidence,
            seed=policy.seed,
        )
        if len(y) >= policy.min_rows and y.min() != y.max()
        else None
    )
    verdict = judge_quality(
        pooled,
        dataset=spec.name,
        version=champion,
        rows=len(y),
        batches=judged,
        policy=policy,
    )
    return QualityCheck(verdict=verdict, scored=scored)
