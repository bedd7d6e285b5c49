"""The steps of ``driftloop_train``: train on a pinned commit, register, decide, promote.

Each function is one Airflow task's work, keyed by the run (``run_key``) so that a retried
task neither writes a second artifact commit, nor a second version, nor a second alias move.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel

from driftloop.config import Settings
from driftloop.config.promotion import CHAMPION, PromotionMode, PromotionPolicy
from driftloop.config.training import TrainingEngine
from driftloop.data.published import locate_published, read_published
from driftloop.exceptions import (
    ConfigError,
    DataSourceError,
    TrainingError,
    UnpublishedData,
    VersionNotFound,
)
from driftloop.lineage import code_version
from driftloop.promotion import Decision, decide
from driftloop.registry import ModelVersion, Registry, VersionLineage
from driftloop.spec import DatasetSpec
from driftloop.training import (
    Metrics,
    TrainedModel,
    TrainingParams,
    check_schema_compatible,
    evaluate,
    holdout_rows,
    load_model,
    save_artifacts,
    train_model,
    write_plots,
)
from driftloop.training.artifacts import read_model_artifact
from driftloop.training.features import split_assignment
from driftloop.versioning.base import ObjectLocations, VersionStore
from driftloop.versioning.transact import transact

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)


class Candidate(BaseModel):
    """A trained model and its evidence, written to the store, not yet registered."""

    run_key: str
    data_ref: str
    data_commit: str
    unpublished_data: bool = False
    engine: TrainingEngine = "local"
    workers: int = 1
    rows: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    champion_version: int | None
    champion_metrics: dict[str, Any] | None
    artifact_uri: str
    artifact_commit: str
    artifact_sha256: str
    files: list[str]
    reference_profile_uri: str


def read_dataset(store: VersionStore, spec: DatasetSpec, commit_id: str) -> pd.DataFrame:
    """Every published batch of ``spec``'s dataset at one commit, in path order.

    Raises:
        TrainingError: the commit holds no data for the dataset.
    """
    with _as_training_error():
        return read_published(store, spec, commit_id)


def landed_labels(
    store: VersionStore, spec: DatasetSpec, commit_id: str, *, settings: Settings
) -> pd.Series:
    """The late labels at ``commit_id`` for a ``late_labels`` spec: target by id (else empty).

    Training joins them onto its rows and leaves out the rows still without a label, so a
    commit always gives the same training rows.

    Raises:
        TrainingError: a labels batch lacks the id or the target column.
    """
    from driftloop.monitoring.quality import late_labels

    if not spec.late_labels:
        return pd.Series(dtype=object)
    with _as_training_error():
        return late_labels(
            store,
            spec,
            settings.monitoring.quality,
            ref=commit_id,
            log_limit=settings.monitoring.batch_log_limit,
        )


def locate_dataset(store: VersionStore, spec: DatasetSpec, commit_id: str) -> ObjectLocations:
    """Where Dask workers read every published batch of ``spec``'s dataset at one commit.

    Raises:
        TrainingError: the commit holds no data for the dataset.
    """
    with _as_training_error():
        return locate_published(store, spec, commit_id)


@contextmanager
def _as_training_error() -> Iterator[None]:
    """Data that cannot be trained on: a data-source error becomes a training error."""
    try:
        yield
    except DataSourceError as exc:
        raise TrainingError(str(exc)) from exc


def _labelled(frame: pd.DataFrame, spec: DatasetSpec, late: pd.Series) -> pd.DataFrame:
    """The rows of ``frame`` with a label (own or late), saying how many wait for theirs."""
    from driftloop.monitoring.quality import labelled_rows

    with _as_training_error():
        labelled = labelled_rows(frame, spec, late)
    if len(labelled) < len(frame):
        log.info(
            "%d of %d rows have no label yet (late_labels): left out of training",
            len(frame) - len(labelled),
            len(frame),
        )
    return labelled


def run_folder(spec: DatasetSpec, run_key: str) -> str:
    """Where a run's artifacts live in the models branch."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run_key).strip("_")
    return f"models/{spec.name}/{slug}"


def check_data_published(
    store: VersionStore,
    settings: Settings,
    *,
    data_ref: str,
    data_commit: str,
    allow_unpublished: bool,
) -> bool:
    """Whether ``data_commit`` is published: the main branch's head or one of its ancestors.

    A commit off main (a quarantined or unmerged ingest branch) is refused unless
    ``allow_unpublished`` is set.

    Raises:
        UnpublishedData: the commit is not on main and ``allow_unpublished`` is false.
        RefNotFound: no such commit.
    """
    main = settings.main_branch
    if store.is_ancestor(data_commit, main):
        return True
    if allow_unpublished:
        return False
    raise UnpublishedData(
        f"data ref {data_ref!r} (commit {data_commit}) is not on {main!r}: training takes "
        f"only published data, {main!r}'s head or one of its ancestors, so a quarantined or "
        "unmerged batch is never trained on by accident; publish it first, or set "
        "allow_unpublished_data to train on it anyway (the version is then recorded as "
        "trained on unpublished data and never promoted automatically)"
    )


@dataclass(frozen=True)
class Fit:
    """A model trained on a commit by one engine, with what scoring and monitoring need.

    Attributes:
        trained: the model and how it was made.
        holdout: the holdout rows of the commit, to score challenger and champion on.
        rows: the rows trained, validated and held out.
        engine: where it trained.
        workers: how many Dask workers trained it (1 for local).
        reference_profile_uri: the stored profile of the training data (drift's reference).
        placement: partitions per Dask worker (empty for local).
    """

    trained: TrainedModel
    holdout: pd.DataFrame
    rows: int
    engine: TrainingEngine
    workers: int
    reference_profile_uri: str
    placement: dict[str, int]

    def record(self) -> dict[str, Any]:
        """The run's account for ``training.json``: the model's, the engine's, the rows."""
        engine = {"engine": self.engine, "workers": self.workers}
        if self.placement:
            engine["partitions_per_worker"] = self.placement
        return self.trained.record() | engine | {"rows": self.rows}


def fit_locally(
    store: VersionStore,
    spec: DatasetSpec,
    data_commit: str,
    params: TrainingParams,
    *,
    settings: Settings,
) -> Fit:
    """Train in this process on every published batch at ``data_commit``.

    Raises:
        TrainingError: no data, too few rows, a single class, a missing target column.
        SchemaMismatch: feature columns are missing or not numeric.
    """
    from driftloop.monitoring.steps import reference_profile_for_training

    frame = read_dataset(store, spec, data_commit)
    if spec.late_labels:
        frame = _labelled(frame, spec, landed_labels(store, spec, data_commit, settings=settings))
    split = split_assignment(frame, spec)
    trained = train_model(frame, spec, params, split=split)
    holdout = holdout_rows(frame, spec, split=split)
    del split
    reference = reference_profile_for_training(store, spec, frame, settings=settings)
    return Fit(
        trained=trained,
        holdout=holdout,
        rows=len(frame),
        engine="local",
        workers=1,
        reference_profile_uri=reference,
        placement={},
    )


def fit_on_dask(
    store: VersionStore,
    spec: DatasetSpec,
    data_commit: str,
    params: TrainingParams,
    *,
    settings: Settings,
    cluster: Client,
) -> Fit:
    """Train on the Dask workers of ``cluster`` (``dask.workers`` of them, default all).

    The workers read the commit's objects where the store says they are (local files, or
    lakeFS's S3 gateway); only the holdout rows come back to this process.

    Raises:
        TrainingError: no data, too few rows, a single class, a missing target column.
        SchemaMismatch: feature columns are missing or not numeric.
        ClusterUnavailable: the cluster has fewer workers than asked for.
        DataSourceError: an object cannot be read.
    """
    from driftloop.monitoring.profiles import profile_path, profile_uri, write_profile
    from driftloop.training.distributed import train_on_dask

    located = locate_dataset(store, spec, data_commit)
    late = landed_labels(store, spec, data_commit, settings=settings)
    trained = train_on_dask(
        cluster, located, spec, params, workers=settings.dask.workers, late_labels=late
    )
    # Keyed by the objects' content (and the late labels joined onto them), as the local
    # engine keys it by the rows' content.
    digest = hashlib.sha256("\n".join(o.checksum for o in located.objects).encode())
    if not late.empty:
        digest.update(pd.util.hash_pandas_object(late).to_numpy().tobytes())
    monitoring = settings.monitoring
    key = f"objects-{digest.hexdigest()[:16]}"
    write_profile(
        store,
        dataset=spec.name,
        kind="reference",
        key=key,
        data=trained.profile,
        rows=trained.counts.total,
        branch=monitoring.branch,
        source_ref=settings.main_branch,
    )
    reference = profile_uri(
        store, store.resolve(monitoring.branch), profile_path(spec.name, "reference", key)
    )
    return Fit(
        trained=trained.trained,
        holdout=trained.holdout,
        rows=trained.counts.total,
        engine="dask",
        workers=trained.workers,
        reference_profile_uri=reference,
        placement=trained.placement,
    )


def train_candidate(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    *,
    settings: Settings,
    data_ref: str,
    data_commit: str,
    run_key: str,
    params: TrainingParams,
    allow_unpublished_data: bool = False,
    cluster: Client | None = None,
) -> Candidate:
    """Train on ``data_commit``, score challenger and champion on the same holdout, store artifacts.

    ``data_commit`` must be on the main branch unless ``allow_unpublished_data`` is set
    (see :func:`check_data_published`). With a ``cluster`` the model trains on its Dask
    workers (:func:`fit_on_dask`), else in this process (:func:`fit_locally`); scoring,
    artifacts and registration are the same either way.

    Raises:
        UnpublishedData: ``data_commit`` is not on main and no override was given.
        TrainingError: too few rows, a single class, a missing target column.
        SchemaMismatch: the spec no longer fits the champion's feature schema.
        ArtifactCorrupt: the champion's model file fails its checksum.
        ClusterUnavailable: the cluster has too few workers.
    """
    published = check_data_published(
        store,
        settings,
        data_ref=data_ref,
        data_commit=data_commit,
        allow_unpublished=allow_unpublished_data,
    )
    champion = _champion(registry, spec.name)
    if champion is not None:
        check_schema_compatible(spec, champion.lineage.feature_schema)
    if cluster is None:
        fit = fit_locally(store, spec, data_commit, params, settings=settings)
    else:
        fit = fit_on_dask(store, spec, data_commit, params, settings=settings, cluster=cluster)
    trained, holdout = fit.trained, fit.holdout
    metrics = evaluate(trained.booster, holdout, spec, threshold=params.threshold)
    champion_metrics = None
    if champion is not None:
        booster = load_champion_model(store, champion)
        champion_metrics = evaluate(booster, holdout, spec, threshold=params.threshold)

    folder = run_folder(spec, run_key)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        files = save_artifacts(trained, spec, out)
        write_plots(trained.booster, holdout, spec, out)
        record = fit.record() | {"metrics": metrics.model_dump()}
        (out / "training.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        names = sorted(p.name for p in out.iterdir())
        artifact_commit = _commit_files(
            store, settings, folder, out, names, run_key=run_key, data_commit=data_commit
        )
    return Candidate(
        run_key=run_key,
        data_ref=data_ref,
        data_commit=data_commit,
        unpublished_data=not published,
        engine=fit.engine,
        workers=fit.workers,
        rows=fit.rows,
        params=record["params"],
        metrics=metrics.model_dump(),
        champion_version=champion.version if champion else None,
        champion_metrics=champion_metrics.model_dump() if champion_metrics else None,
        artifact_uri=f"{folder}/{files.model.name}",
        artifact_commit=artifact_commit,
        artifact_sha256=files.model_sha256,
        files=[f"{folder}/{name}" for name in names],
        reference_profile_uri=fit.reference_profile_uri,
    )


def register_candidate(
    registry: Registry,
    store: VersionStore,
    spec: DatasetSpec,
    candidate: Candidate,
    *,
    settings: Settings,
    created_by: str,
) -> ModelVersion:
    """Register the candidate with its lineage and reference profile (idempotent by ``run_key``)."""
    from driftloop.training import feature_schema

    lineage = VersionLineage(
        data_commit=candidate.data_commit,
        data_ref=candidate.data_ref,
        unpublished_data=candidate.unpublished_data,
        engine=candidate.engine,
        workers=candidate.workers,
        validation=validation_summary(store, spec.name, candidate.data_commit),
        params=candidate.params,
        metrics=candidate.metrics,
        holdout_metrics_champion=candidate.champion_metrics,
        code_version=code_version(settings.project_dir),
        artifact_uri=candidate.artifact_uri,
        artifact_commit=candidate.artifact_commit,
        artifact_sha256=candidate.artifact_sha256,
        feature_schema=feature_schema(spec),
        tags={"champion_at_training": str(candidate.champion_version or "")},
    )
    version = registry.register_version(
        spec.name, run_key=candidate.run_key, lineage=lineage, created_by=created_by
    )
    if version.reference_profile_uri is None:
        # The drift monitor scores new data against this profile of the training data.
        version = registry.set_reference_profile(
            spec.name, version.version, candidate.reference_profile_uri
        )
    return version


def decide_promotion(
    registry: Registry,
    version: ModelVersion,
    candidate: Candidate,
    *,
    policy: PromotionPolicy,
    mode: PromotionMode,
    actor: str,
) -> Decision:
    """Apply the policy (and the run's promotion mode); record the decision either way.

    A version trained on unpublished data (see :func:`check_data_published`) is never
    promoted in ``auto`` mode; with ``require_approval`` the approver sees why it is special,
    and a person may always promote it by hand.
    """
    champion = Metrics(**candidate.champion_metrics) if candidate.champion_metrics else None
    decision = decide(Metrics(**candidate.metrics), champion, policy)
    lineage = version.lineage
    unpublished = (
        f"trained on unpublished data (ref {lineage.data_ref!r}, commit {lineage.data_commit}, "
        "not on the main branch)"
    )
    if decision.promote and mode == "never":
        decision = _withheld(decision, "promotion mode is 'never'")
    elif decision.promote and lineage.unpublished_data and mode == "auto":
        decision = _withheld(
            decision, f"{unpublished}: never promoted automatically, promote it by hand if you must"
        )
    elif decision.promote and lineage.unpublished_data:
        decision = decision.model_copy(update={"reason": f"{unpublished}; {decision.reason}"})
    evidence = decision.evidence | {
        "mode": mode,
        "champion_version": candidate.champion_version,
        "unpublished_data": lineage.unpublished_data,
    }
    registry.record_decision(
        version.model,
        version.version,
        promoted=decision.promote,
        reason=decision.reason,
        evidence=evidence,
        actor=actor,
        run_key=candidate.run_key,
    )
    return Decision(promote=decision.promote, reason=decision.reason, evidence=evidence)


def _withheld(decision: Decision, why: str) -> Decision:
    """``decision`` turned into a non-promotion, saying why and what the policy would do."""
    return Decision(
        promote=False,
        reason=f"{why}; the policy would promote: {decision.reason}",
        evidence=decision.evidence,
    )


def promote_version(
    registry: Registry,
    version: ModelVersion,
    *,
    reason: str,
    evidence: dict[str, Any],
    actor: str,
    run_key: str,
    compared_with: int | None,
) -> int | None:
    """Move ``champion`` to ``version`` in one audited transaction; return the previous one.

    The move happens only while ``champion`` is still ``compared_with``, the version the
    candidate was compared with: a challenger never replaces a champion it was not judged
    against (an approval can wait for days while someone promotes or rolls back).

    Raises:
        AliasMoved: ``champion`` moved since the comparison.
    """
    move = registry.move_alias(
        version.model,
        CHAMPION,
        version.version,
        actor=actor,
        reason=reason,
        evidence=evidence,
        run_key=run_key,
        expected=compared_with,
    )
    return move.from_version


def load_champion_model(store: VersionStore, version: ModelVersion):
    """The XGBoost booster of a registered version, checked against its recorded checksum.

    Raises:
        ArtifactCorrupt: the bytes in the store do not match the recorded checksum.
    """
    data = read_model_artifact(store, version.lineage)
    return load_model(data, expected_sha256=version.lineage.artifact_sha256)


def validation_summary(store: VersionStore, dataset: str, data_commit: str) -> dict[str, Any]:
    """The validation statistics of every batch of ``dataset`` published up to ``data_commit``."""
    from driftloop.data.published import names_batch_of

    batches = {}
    for commit in store.log(data_commit, limit=10_000):
        meta = commit.metadata
        if "validation" in meta and "batch" in meta and names_batch_of(meta, dataset):
            batches.setdefault(meta["batch"], json.loads(meta["validation"]))
    return {"data_commit": data_commit, "batches": dict(sorted(batches.items()))}


def _champion(registry: Registry, model: str) -> ModelVersion | None:
    try:
        return registry.get_alias(model, CHAMPION)
    except VersionNotFound:
        return None


def _commit_files(
    store: VersionStore,
    settings: Settings,
    folder: str,
    local: Path,
    names: list[str],
    *,
    run_key: str,
    data_commit: str,
) -> str:
    store.ensure_repository(settings.main_branch)
    with transact(
        store,
        settings.models_branch,
        source_ref=settings.main_branch,
        message=f"Model artifacts of {run_key}",
        metadata={"airflow_run_id": run_key, "data_commit": data_commit},
    ) as tx:
        for name in names:
            tx.write_if_changed(f"{folder}/{name}", (local / name).read_bytes())
    return tx.commit_id


class Reproduction(BaseModel):
    """The outcome of retraining a version from its recorded lineage."""

    model: str
    version: int
    engine: TrainingEngine = "local"
    workers: int = 1
    identical: bool
    recorded_sha256: str
    reproduced_sha256: str


def reproduce_version(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    model: str,
    version: int,
    *,
    cluster: Client | None = None,
) -> Reproduction:
    """Retrain ``version`` on its engine from its data commit and parameters; compare bytes.

    A version trained on Dask is retrained on ``cluster`` with as many workers as it was
    trained on (the same number gives the same model; see ``docs/deploy.md``).

    Raises:
        VersionNotFound: no such version.
        SchemaMismatch: the current spec no longer fits the version's feature schema.
        ConfigError: the version trained on Dask and no cluster was given.
        ClusterUnavailable: the cluster has fewer workers than the version trained on.
    """
    recorded = registry.get_version(model, version)
    lineage = recorded.lineage
    check_schema_compatible(spec, lineage.feature_schema)
    params = TrainingParams(**lineage.params)
    if lineage.engine == "local":
        trained = train_model(read_dataset(store, spec, lineage.data_commit), spec, params)
    elif cluster is None:
        raise ConfigError(
            f"version {version} of {model!r} trained on Dask with {lineage.workers} workers: "
            "reproducing it needs a Dask cluster"
        )
    else:
        from driftloop.training.distributed import train_on_dask

        located = locate_dataset(store, spec, lineage.data_commit)
        trained = train_on_dask(cluster, located, spec, params, workers=lineage.workers).trained
    with tempfile.TemporaryDirectory() as tmp:
        files = save_artifacts(trained, spec, Path(tmp))
    return Reproduction(
        model=model,
        version=version,
        engine=lineage.engine,
        workers=lineage.workers,
        identical=files.model_sha256 == recorded.lineage.artifact_sha256,
        recorded_sha256=recorded.lineage.artifact_sha256,
        reproduced_sha256=files.model_sha256,
    )
