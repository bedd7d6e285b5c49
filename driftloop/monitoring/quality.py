"""The champion's own quality on the labelled batches it has not seen, and the rule on it.

Batches carry their labels (the spec's target), so the monitor measures what drift
only stands in for: how well the champion scores new data. The window is the one the
drift check judges: the batches published on main after the champion's training data
(whose object is not in its ``lineage.data_commit``). Each is scored on its labelled rows
with the promotion holdout's metrics and threshold (``training.quality`` does the
scoring: monitoring imports no training code), each metric with a bootstrap interval,
and stored per batch in the registry's database (:class:`QualityStore`).

**The rule** (:func:`judge_quality`, settings in ``monitoring.quality``) reads the
primary metric pooled over the labelled rows of the whole window: it fires when the
metric is worse than the champion's holdout value by more than the tolerance *and* the
whole bootstrap interval is worse than the holdout value, over at least ``min_rows``
labelled rows. Small batches are pooled, never judged alone.

**Late labels.** A row published without a label is left out of its batch's scores. Its
label can come later as a batch of the labels dataset (``monitoring.quality.labels_dataset``,
default ``<dataset>_labels``): the spec's id and target columns, published on main like
any batch. Labels are joined onto unlabelled rows by id; a batch whose labelled rows grew
is scored again and its row updated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from driftloop.config.monitoring import LOWER_IS_BETTER, QualityPolicy
from driftloop.data.published import names_batch_of
from driftloop.exceptions import DataSourceError
from driftloop.registry.database import Database
from driftloop.registry.models import BatchQualityRow, ModelRow

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.registry import ModelVersion
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy")
"""The promotion holdout's metrics, each reported with an interval."""


class MetricEstimate(BaseModel):
    """A metric on some rows, with the bootstrap interval around it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float
    low: float
    high: float

    def describe(self) -> str:
        """E.g. ``0.712 [0.690, 0.731]``."""
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


class BatchQuality(BaseModel):
    """A model version's quality on the labelled rows of one batch it was not trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: int
    batch: str
    batch_commit: str
    labels_commit: str
    rows: int
    labelled_rows: int
    metrics: dict[str, MetricEstimate]
    scored_at: datetime


class ScoredBatchQuality(BaseModel):
    """One batch a quality check scored: its labelled rows, each metric with its interval."""

    model_config = ConfigDict(frozen=True, extra="allow")

    batch: str
    batch_commit: str | None = None
    labelled_rows: int
    metrics: dict[str, MetricEstimate]


class UnseenBatch(BaseModel):
    """A batch published after a version's training data: its key, object and publish commit.

    ``commit`` is the publish merge found in main's log, or ``object:<checksum>`` when
    that commit is older than the log searched (the content identifies the batch then).
    """

    model_config = ConfigDict(frozen=True)

    key: str
    path: str
    commit: str


class QualityEvidence(BaseModel):
    """What the quality rule read: the primary metric pooled over the window's labelled rows.

    ``holdout`` is the version's value on the promotion holdout (``None``: it has none, so
    the rule cannot fire); ``pooled`` is ``None`` when nothing was scored.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    metric: str
    holdout: float | None
    tolerance: float
    pooled: MetricEstimate | None
    rows: int
    min_rows: int


class QualityVerdict(BaseModel):
    """The quality rule's verdict on a version's window, with its evidence."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    degraded: bool
    reason: str
    model_version: int
    evidence: QualityEvidence
    batches: list[str]
    signature: str

    def summary(self, scored: Sequence[BatchQuality] = ()) -> dict[str, Any]:
        """:class:`QualitySummary` as JSON, with the batch results ``scored`` (if any)."""
        fields = set(ScoredBatchQuality.model_fields)
        return QualitySummary(
            **self.model_dump(),
            scored=[ScoredBatchQuality(**r.model_dump(include=fields)) for r in scored],
        ).model_dump(mode="json")


class QualitySummary(BaseModel):
    """A quality check's summary: for XCom, the Asset event, a retrain's conf, the drift report.

    ``batches`` are the batches pooled for the verdict, ``scored`` those the check scored
    (first seen, or with late labels since). Keys this model does not name are kept.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    dataset: str | None = None
    degraded: bool
    reason: str
    signature: str | None = None
    model_version: int | None = None
    evidence: QualityEvidence
    batches: list[str] = Field(default_factory=list)
    scored: list[ScoredBatchQuality] = Field(default_factory=list)


def unseen_batches(
    store: VersionStore, spec: DatasetSpec, version: ModelVersion, *, main: str, log_limit: int
) -> list[UnseenBatch]:
    """The batches of ``spec``'s dataset on ``main`` that ``version`` was not trained on.

    Raises:
        MonitoringError: the store no longer has the version's training data commit.
        VersioningError: the store failed.
    """
    from driftloop.monitoring.steps import _published_batches, trained_batches

    trained = trained_batches(store, spec, version)
    published = _published_batches(store, spec.name, main)
    new = sorted(set(published) - trained)
    if not new:
        return []
    publishes: dict[str, str] = {}
    for entry in store.log(main, limit=log_limit):
        if "batch" in entry.metadata and names_batch_of(entry.metadata, spec.name):
            publishes.setdefault(entry.metadata["batch"], entry.id)
    checksums = {o.path: o.checksum for o in store.list_objects(main, f"data/{spec.name}/")}
    return [
        UnseenBatch(
            key=key,
            path=published[key],
            commit=publishes.get(key) or f"object:{checksums[published[key]]}",
        )
        for key in new
    ]


def late_labels(
    store: VersionStore, spec: DatasetSpec, policy: QualityPolicy, *, ref: str, log_limit: int
) -> pd.Series:
    """The labels published later for ``spec``'s rows: target by id (the last published wins).

    Labels batches are read in the order they were published, found in the last
    ``log_limit`` commits of ``ref`` (batches published before those come first, by key),
    so a label published later replaces an earlier one for the same id. Empty when the
    labels dataset has no batch, or the spec names no id column.

    Raises:
        DataSourceError: a labels batch lacks the id or the target column.
        VersioningError: the store failed.
    """
    import pandas as pd

    from driftloop.data.sources import read_parquet_bytes
    from driftloop.monitoring.steps import _published_batches

    empty = pd.Series(dtype=object)
    if spec.id_column is None:
        return empty
    dataset = policy.labels_of(spec.name)
    batches = _published_batches(store, dataset, ref)
    newest_first = [
        entry.metadata["batch"]
        for entry in store.log(ref, limit=log_limit)
        if "batch" in entry.metadata and names_batch_of(entry.metadata, dataset)
    ]
    order = {key: -position for position, key in enumerate(dict.fromkeys(newest_first))}
    frames = []
    for key in sorted(batches, key=lambda k: (order.get(k, -len(order)), k)):
        path = batches[key]
        frame = read_parquet_bytes(store.read_object(ref, path), label=path)
        missing = sorted({spec.id_column, spec.target} - set(frame.columns))
        if missing:
            raise DataSourceError(
                f"labels batch {path} lacks column(s) {missing}: a labels batch of "
                f"{spec.name!r} holds {spec.id_column!r} and {spec.target!r}"
            )
        frames.append(frame[[spec.id_column, spec.target]].dropna(subset=[spec.target]))
    if not frames:
        return empty
    labels = pd.concat(frames, ignore_index=True).drop_duplicates(spec.id_column, keep="last")
    return labels.set_index(spec.id_column)[spec.target]


def with_late_labels(frame: pd.DataFrame, spec: DatasetSpec, labels: pd.Series) -> pd.DataFrame:
    """``frame`` with unlabelled rows given their late label by id (labelled rows kept as is)."""
    if labels.empty or spec.id_column is None or spec.target not in frame.columns:
        return frame
    missing = frame[spec.target].isna()
    if not missing.any():
        return frame
    filled = frame.copy()
    found = frame.loc[missing, spec.id_column].map(labels)
    target = filled[spec.target].astype(object)
    target[missing] = found
    filled[spec.target] = target
    return filled


def holdout_value(version: ModelVersion, metric: str) -> float | None:
    """``version``'s own ``metric`` on the promotion holdout (``None``: its lineage has none)."""
    raw = version.lineage.metrics.get(metric)
    return float(raw) if isinstance(raw, int | float) else None


def labelled_rows(frame: pd.DataFrame, spec: DatasetSpec, labels: pd.Series) -> pd.DataFrame:
    """``frame``'s rows that have a label: their own, or a late one joined by id.

    Raises:
        DataSourceError: ``frame`` lacks the target or the id column.
    """
    missing = [c for c in (spec.target, spec.id_column) if c is not None and c not in frame]
    if missing:
        raise DataSourceError(f"the rows lack column(s) {missing}; columns are {list(frame)}")
    filled = with_late_labels(frame, spec, labels)
    return filled[filled[spec.target].notna()]


def judge_quality(
    pooled: Mapping[str, MetricEstimate] | None,
    *,
    dataset: str,
    version: ModelVersion,
    rows: int,
    batches: Sequence[str],
    policy: QualityPolicy,
) -> QualityVerdict:
    """Apply the quality rule to the window's pooled metrics (``None``: nothing scored).

    The holdout value is the version's own metric on the promotion holdout
    (``lineage.metrics``); without one, the rule cannot fire.
    """
    metric = policy.metric
    holdout = holdout_value(version, metric)
    estimate = pooled.get(metric) if pooled else None
    signature = hashlib.sha256(
        f"quality|{dataset}|v{version.version}|{metric}|{','.join(sorted(batches))}".encode()
    ).hexdigest()[:16]

    def verdict(degraded: bool, reason: str) -> QualityVerdict:
        return QualityVerdict(
            dataset=dataset,
            degraded=degraded,
            reason=reason,
            model_version=version.version,
            evidence=QualityEvidence(
                metric=metric,
                holdout=holdout,
                tolerance=policy.tolerance,
                pooled=estimate,
                rows=rows,
                min_rows=policy.min_rows,
            ),
            batches=list(batches),
            signature=signature,
        )

    where = f"version {version.version} on {rows} labelled rows of {len(batches)} unseen batches"
    if holdout is None:
        return verdict(
            False,
            f"no quality verdict: version {version.version} has no holdout "
            f"{metric} in its lineage to compare with",
        )
    if estimate is None or rows < policy.min_rows:
        return verdict(
            False,
            f"no quality verdict: {where}; the rule needs {policy.min_rows} labelled rows, "
            "so they wait for more",
        )
    lower = metric in LOWER_IS_BETTER
    loss = estimate.value - holdout if lower else holdout - estimate.value
    excluded = estimate.low > holdout if lower else estimate.high < holdout
    said = f"{metric} {estimate.describe()} vs {holdout:.3f} on the holdout"
    if loss > policy.tolerance and excluded:
        return verdict(
            True,
            f"quality: {said}, worse by {loss:.3f} (tolerance {policy.tolerance}), its "
            f"{policy.confidence:.0%} interval excludes the holdout value; {where}",
        )
    why = (
        f"worse by {loss:.3f}, within the tolerance {policy.tolerance}"
        if loss <= policy.tolerance
        else "its interval reaches the holdout value"
    )
    return verdict(False, f"no quality loss: {said}, {why}; {where}")


class QualityStore:
    """Per-batch quality results in the registry's database (table ``monitoring_batch_quality``).

    Every method may raise :class:`~driftloop.exceptions.RegistryUnavailable` or
    :class:`~driftloop.exceptions.RegistryError`.
    """

    def __init__(self, *, url: str, sqlite_timeout: float = 30.0) -> None:
        """Prepare the engine; nothing connects until the first call."""
        self._db = Database(url, sqlite_timeout=sqlite_timeout)
        self._schema_ready = False

    def close(self) -> None:
        """Close the pooled connections."""
        self._db.engine.dispose()

    def record(self, result: BatchQuality) -> BatchQuality:
        """Store ``result``: one row per (version, batch commit), updated in place.

        Recording the same labelled rows again changes nothing (a retried task); more
        labelled rows (late labels) replace the scores.

        Raises:
            VersionNotFound: the model does not exist.
        """
        self._ensure_schema()
        with self._db.transaction(write=True) as session:
            model_id = _model_id(session, result.model)
            row = session.scalars(
                select(BatchQualityRow)
                .where(
                    BatchQualityRow.model_id == model_id,
                    BatchQualityRow.version == result.version,
                    BatchQualityRow.batch_commit == result.batch_commit,
                )
                .with_for_update()
            ).one_or_none()
            if row is not None and row.labelled_rows == result.labelled_rows:
                return _result(row, result.model)
            if row is None:
                row = BatchQualityRow(
                    model_id=model_id, version=result.version, batch_commit=result.batch_commit
                )
                session.add(row)
            row.batch = result.batch
            row.labels_commit = result.labels_commit
            row.rows = result.rows
            row.labelled_rows = result.labelled_rows
            row.metrics = {k: v.model_dump() for k, v in result.metrics.items()}
            row.scored_at = result.scored_at
            session.flush()
            return _result(row, result.model)

    def results(self, model: str, version: int | None = None) -> list[BatchQuality]:
        """Stored results of ``model`` (of one ``version``), oldest batch first."""
        self._ensure_schema()
        with self._db.transaction(write=False) as session:
            model_id = session.scalar(select(ModelRow.id).where(ModelRow.name == model))
            if model_id is None:
                return []
            query = select(BatchQualityRow).where(BatchQualityRow.model_id == model_id)
            if version is not None:
                query = query.where(BatchQualityRow.version == version)
            rows = session.scalars(
                query.order_by(BatchQualityRow.batch, BatchQualityRow.version)
            ).all()
            return [_result(row, model) for row in rows]

    def _ensure_schema(self) -> None:
        # Like the retrain guards, the monitor may reach the database before any registry call.
        if not self._schema_ready:
            self._db.upgrade()
            self._schema_ready = True


def _model_id(session: Any, model: str) -> int:
    from driftloop.exceptions import VersionNotFound

    model_id = session.scalar(select(ModelRow.id).where(ModelRow.name == model))
    if model_id is None:
        raise VersionNotFound(f"no model {model!r} in the registry")
    return int(model_id)


def _result(row: BatchQualityRow, model: str) -> BatchQuality:
    return BatchQuality(
        model=model,
        version=row.version,
        batch=row.batch,
        batch_commit=row.batch_commit,
        labels_commit=row.labels_commit,
        rows=row.rows,
        labelled_rows=row.labelled_rows,
        metrics={k: MetricEstimate.model_validate(v) for k, v in row.metrics.items()},
        scored_at=row.scored_at,
    )
